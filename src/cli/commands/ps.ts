import { fleetInstances, type FleetInstances } from '../../runtime/fleet-instances.js';
import { remoteOr } from '../remote.js';
import type { InstanceStatus } from '../../runtime/instances.js';
import type { UnreachableHost } from '../../runtime/reach.js';
import type { Command } from '../command.js';
import { formatDuration, printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';

export const psCommand: Command = {
  name: 'ps',
  summary: 'every instance: host, network, IP, MAC, ports, image digest, state (set-aside, missing too), health, uptime, restarts',
  usage: 'berth ps [--env <env>] [--service <service>] [--json]',
  options: { env: { type: 'string', short: 'e' }, service: { type: 'string', short: 's' }, json: { type: 'boolean' } },
  run: async (context) => {
    const { flags, output } = context;
    const filter = { ...(typeof flags.env === 'string' ? { environment: flags.env } : {}), ...(typeof flags.service === 'string' ? { service: flags.service } : {}) };
    const { instances, unreachable } = await remoteOr(
      context,
      (client) => client.get<FleetInstances>('/v1/instances', { env: filter.environment, service: filter.service }),
      () => withRun(context, (run) => fleetInstances(run, filter)),
    );
    {
      if (flags.json) {
        printJson(output, { instances, unreachable });
        return 0;
      }
      for (const line of psLines(instances, unreachable)) output.out(line);
      return 0;
    }
  },
};

/** The table and its notes: missing and set-aside instances, and each host that did not answer with its reason. */
export function psLines(instances: readonly InstanceStatus[], unreachable: readonly UnreachableHost[]): string[] {
  const lines: string[] = [];
  if (instances.length === 0) lines.push('no instances; deploy a service with "berth deploy <service> --env <env>"');
  else lines.push(table([['INSTANCE', 'ENV', 'HOST', 'NETWORK', 'IP', 'MAC', 'PORTS', 'DIGEST', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS'], ...instances.map(row)]));
  const missing = instances.filter((i) => i.state === 'missing');
  if (missing.length > 0) lines.push(`missing: ${missing.map((i) => i.slot).join(', ')} (no container; the next rollout or berth restart recreates it on its slot and address)`);
  const aside = instances.filter((i) => i.state === 'set-aside');
  if (aside.length > 0) lines.push(`set aside by an interrupted rollout: ${aside.map((i) => i.name).join(', ')} (berth rollout ls; run the command again to resume, or berth rollout abandon <id>)`);
  for (const u of unreachable) {
    const unknown = instances.filter((i) => i.host === u.host && i.state === 'unknown').length;
    lines.push(`host ${u.host} unreachable: ${u.error}${unknown > 0 ? `; its ${unknown} recorded instance(s) are shown as unknown` : ''}`);
  }
  return lines;
}

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
