/** berth host drain|undrain <host>: move everything off a host and keep it empty, or let it take instances again. */
import { undrainHost, type MoveResult, type UndrainResult } from '../../fleet/move.js';
import { drain, type DrainRequest } from '../../requests/drain.js';
import { ROLLOUT_START_TIMEOUT_MS } from '../../remote/client.js';
import { remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { timeoutFlag } from '../flags.js';
import { printJson } from '../output.js';
import { withRun } from '../run-workspace.js';
import { progress } from './release.js';
import { finishMove } from './moves.js';

const USAGE = 'berth host drain|undrain <host> [--timeout 120s] [--detach] [--json]';

export const hostCommand: Command = {
  name: 'host',
  summary: 'drain a host (its instances move to other hosts keeping their addresses; it gets nothing new) or undrain it',
  usage: USAGE,
  options: { json: { type: 'boolean' }, timeout: { type: 'string' }, detach: { type: 'boolean' } },
  run: (context) => {
    const [action, host, ...extra] = context.positionals;
    if ((action !== 'drain' && action !== 'undrain') || host === undefined || extra.length > 0) throw invalid('name drain or undrain, and one host', { fix: `usage: ${USAGE}` });
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const project = typeof context.flags.project === 'string' ? ` -p ${context.flags.project}` : '';
    const json = context.flags.json === true;
    const undrained = (state: UndrainResult) => {
      if (json) printJson(context.output, state);
      else context.output.out(state.wasDraining ? `${host} is ready: it takes new instances again (the ones that moved away stay where they are)` : `${host} was not draining; it is ready`);
      return 0;
    };
    const request: DrainRequest = timeoutMs ? { timeoutMs } : {};
    const drained = (result: MoveResult) => finishMove(context, result, `berth host drain ${host}${project}`, `${host} is draining and runs no instance: nothing to move`);
    return remoteOr(
      context,
      async (client) => {
        const path = `/v1/hosts/${encodeURIComponent(host)}/${action}`;
        if (action === 'undrain') return undrained(await client.post<UndrainResult>(path, {}));
        const answer = await client.post<RolloutAnswer<MoveResult>>(path, request, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
        return serverRollout<MoveResult>(context, client, answer, drained, progress(context.output));
      },
      () =>
        withRun(context, async (run) => {
          if (action === 'undrain') return undrained(await undrainHost(run, host));
          return drained(await drain(run, host, request, json ? {} : { emit: progress(context.output) }));
        }),
    );
  },
};
