/** berth move <instance> --env <env> --to <host>: one instance to another host, keeping its address. */
import { moveInstance } from '../../fleet/move.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { requiredFlag, timeoutFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';
import { progress } from './release.js';
import { finishMove } from './moves.js';

const USAGE = 'berth move <instance> --env <env> --to <host> [--timeout 120s] [--json]';

export const moveCommand: Command = {
  name: 'move',
  summary: 'moves one instance to another host of its environment, health-gated through the front door, keeping its IP and MAC',
  usage: USAGE,
  options: { json: { type: 'boolean' }, timeout: { type: 'string' }, env: { type: 'string', short: 'e' }, to: { type: 'string' } },
  run: (context) => {
    const [slot, ...extra] = context.positionals;
    if (slot === undefined || extra.length > 0) throw invalid('name exactly one instance (e.g. hello-production-4, as berth ps shows it)', { fix: `usage: ${USAGE}` });
    const env = requiredFlag(context.flags.env, '--env', USAGE);
    const to = requiredFlag(context.flags.to, '--to', USAGE);
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const project = typeof context.flags.project === 'string' ? ` -p ${context.flags.project}` : '';
    return withRun(context, async (run) => {
      const result = await moveInstance(run, slot, env, to, { ...(timeoutMs ? { timeoutMs } : {}), ...(context.flags.json ? {} : { emit: progress(context.output) }) });
      return finishMove(context, result, `berth move ${slot} --env ${env} --to ${to}${project}`, `${slot} already runs on ${to}: nothing to move`);
    });
  },
};
