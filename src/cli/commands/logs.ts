import { instanceLogs, selectInstances } from '../../release/operate.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { durationFlag, positiveFlag, requiredFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';

const USAGE = 'berth logs <service|instance> --env <env> [-f] [--since 10m] [--tail N]';

export const logsCommand: Command = {
  name: 'logs',
  summary: "a service's logs, every instance's lines merged and prefixed by the instance",
  usage: USAGE,
  options: { env: { type: 'string', short: 'e' }, follow: { type: 'boolean', short: 'f' }, since: { type: 'string' }, tail: { type: 'string' } },
  run: (context) => {
    const { flags, output } = context;
    const [name, ...extra] = context.positionals;
    if (name === undefined || extra.length > 0) throw invalid('name one service or instance', { fix: `usage: ${USAGE}` });
    const environment = requiredFlag(flags.env, '--env', USAGE);
    const sinceMs = durationFlag(flags.since, '--since');
    const tail = positiveFlag(flags.tail, '--tail');
    return withRun(context, async (run) => {
      const instances = await selectInstances(run, name, environment);
      await instanceLogs(run, instances, {
        follow: flags.follow === true,
        ...(sinceMs !== undefined ? { since: Math.floor((Date.now() - sinceMs) / 1000) } : {}),
        ...(tail !== undefined ? { tail } : {}),
        onLine: (slot, line) => output.out(`${slot} | ${line}`),
      });
      return 0;
    });
  },
};
