/** berth host drain|undrain <host>: move everything off a host and keep it empty, or let it take instances again. */
import { drainHost, undrainHost } from '../../fleet/move.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { timeoutFlag } from '../flags.js';
import { printJson } from '../output.js';
import { withRun } from '../run-workspace.js';
import { progress } from './release.js';
import { finishMove } from './moves.js';

const USAGE = 'berth host drain|undrain <host> [--timeout 120s] [--json]';

export const hostCommand: Command = {
  name: 'host',
  summary: 'drain a host (its instances move to other hosts keeping their addresses; it gets nothing new) or undrain it',
  usage: USAGE,
  options: { json: { type: 'boolean' }, timeout: { type: 'string' } },
  run: (context) => {
    const [action, host, ...extra] = context.positionals;
    if ((action !== 'drain' && action !== 'undrain') || host === undefined || extra.length > 0) throw invalid('name drain or undrain, and one host', { fix: `usage: ${USAGE}` });
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const project = typeof context.flags.project === 'string' ? ` -p ${context.flags.project}` : '';
    return withRun(context, async (run) => {
      if (action === 'undrain') {
        const was = await undrainHost(run, host);
        if (context.flags.json) printJson(context.output, { host, state: 'ready', wasDraining: was });
        else context.output.out(was ? `${host} is ready: it takes new instances again (the ones that moved away stay where they are)` : `${host} was not draining; it is ready`);
        return 0;
      }
      const result = await drainHost(run, host, { ...(timeoutMs ? { timeoutMs } : {}), ...(context.flags.json ? {} : { emit: progress(context.output) }) });
      return finishMove(context, result, `berth host drain ${host}${project}`, `${host} is draining and runs no instance: nothing to move`);
    });
  },
};
