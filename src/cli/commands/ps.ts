import { environmentOf, serviceOf } from '../../deploy/context.js';
import { listInstances, type InstanceStatus } from '../../deploy/instances.js';
import type { Command } from '../command.js';
import { formatDuration, printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';

export const psCommand: Command = {
  name: 'ps',
  summary: 'every instance: host, network, IP, MAC, ports, image digest, state (set-aside, missing too), health, uptime, restarts',
  usage: 'berth ps [--env <env>] [--service <service>] [--json]',
  options: { env: { type: 'string', short: 'e' }, service: { type: 'string', short: 's' }, json: { type: 'boolean' } },
  run: (context) =>
    withRun(context, async (run) => {
      const { flags, output } = context;
      const instances = await listInstances(run, {
        ...(typeof flags.env === 'string' ? { environment: environmentOf(run.project, flags.env).name } : {}),
        ...(typeof flags.service === 'string' ? { service: serviceOf(run.project, flags.service).name } : {}),
        withMissing: true,
      });
      if (flags.json) {
        printJson(output, { instances });
        return 0;
      }
      if (instances.length === 0) {
        output.out('no instances; deploy a service with "berth deploy <service> --env <env>"');
        return 0;
      }
      output.out(table([['INSTANCE', 'ENV', 'HOST', 'NETWORK', 'IP', 'MAC', 'PORTS', 'DIGEST', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS'], ...instances.map(row)]));
      const missing = instances.filter((i) => i.state === 'missing');
      if (missing.length > 0) output.out(`missing: ${missing.map((i) => i.slot).join(', ')} (no container; the next rollout or berth restart recreates it on its slot and address)`);
      const aside = instances.filter((i) => i.state === 'set-aside');
      if (aside.length > 0) output.out(`set aside by an interrupted rollout: ${aside.map((i) => i.name).join(', ')} (berth rollout ls; run the command again to resume, or berth rollout abandon <id>)`);
      return 0;
    }),
};

function row(i: InstanceStatus): string[] {
  const ports = Object.entries(i.ports).map(([c, h]) => `${h}→${c}`).join(',');
  return [
    i.state === 'set-aside' ? i.name : i.slot,
    i.environment,
    i.host,
    i.network,
    i.ip ?? '-',
    i.mac ?? '-',
    ports || '-',
    i.digest ? i.digest.replace('sha256:', '').slice(0, 12) : '-',
    i.state,
    i.health,
    i.uptimeSeconds === null ? '-' : formatDuration(i.uptimeSeconds * 1000),
    String(i.restarts),
  ];
}
