/** The workspace of Run's commands: the project, the store and an engine per host. */
import { Hosts } from '../runtime/hosts.js';
import type { RunContext } from '../runtime/context.js';
import { withWorkspace, type CommandContext } from './command.js';
import { withInterruptNotice } from './interrupt.js';

export function withRun<T>(context: CommandContext, use: (run: RunContext) => Promise<T>): Promise<T> {
  const project = typeof context.flags.project === 'string' ? ` -p ${context.flags.project}` : '';
  return withWorkspace(context, ({ project: spec, engine, db }) =>
    withInterruptNotice(db, context.output, project, () => use({ project: spec, db, hosts: new Hosts(spec, engine), env: context.env })),
  );
}
