/** The workspace of Run's commands: the project, the store and an engine per host. */
import { Hosts } from '../deploy/hosts.js';
import type { RunContext } from '../deploy/context.js';
import { withWorkspace, type CommandContext } from './command.js';

export function withRun<T>(context: CommandContext, use: (run: RunContext) => Promise<T>): Promise<T> {
  return withWorkspace(context, ({ project, engine, db }) => use({ project, db, hosts: new Hosts(project, engine), env: context.env }));
}
