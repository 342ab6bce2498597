/** berth move <instance> --env <env> --to <host>: one instance to another host, keeping its address. */
import type { MoveResult } from '../../fleet/move.js';
import { move, type MoveRequest } from '../../requests/move.js';
import { ROLLOUT_START_TIMEOUT_MS } from '../../remote/client.js';
import { remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { requiredFlag, timeoutFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';
import { progress } from './release.js';
import { finishMove } from './moves.js';

const USAGE = 'berth move <instance> --env <env> --to <host> [--timeout 120s] [--detach] [--json]';

export const moveCommand: Command = {
  name: 'move',
  summary: 'moves one instance to another host of its environment, health-gated through the front door, keeping its IP and MAC',
  usage: USAGE,
  options: { json: { type: 'boolean' }, timeout: { type: 'string' }, detach: { type: 'boolean' }, env: { type: 'string', short: 'e' }, to: { type: 'string' } },
  run: (context) => {
    const [slot, ...extra] = context.positionals;
    if (slot === undefined || extra.length > 0) throw invalid('name exactly one instance (e.g. hello-production-4, as berth ps shows it)', { fix: `usage: ${USAGE}` });
    const env = requiredFlag(context.flags.env, '--env', USAGE);
    const to = requiredFlag(context.flags.to, '--to', USAGE);
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const project = typeof context.flags.project === 'string' ? ` -p ${context.flags.project}` : '';
    const request: MoveRequest = { environment: env, to, ...(timeoutMs ? { timeoutMs } : {}) };
    const finished = (result: MoveResult) => finishMove(context, result, `berth move ${slot} --env ${env} --to ${to}${project}`, `${slot} already runs on ${to}: nothing to move`);
    return remoteOr(
      context,
      async (client) => {
        const answer = await client.post<RolloutAnswer<MoveResult>>(`/v1/instances/${encodeURIComponent(slot)}/moves`, request, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
        return serverRollout<MoveResult>(context, client, answer, finished, progress(context.output));
      },
      () => withRun(context, async (run) => finished(await move(run, slot, request, context.flags.json ? {} : { emit: progress(context.output) }))),
    );
  },
};
