import { fleetHosts } from '../../fleet/hosts.js';
import type { HostView } from '../../fleet/hosts-view.js';
import type { Command } from '../command.js';
import { formatBytes, printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';
import { remoteOr } from '../remote.js';

export const hostsCommand: Command = {
  name: 'hosts',
  summary: 'every host: state (ready, draining, unreachable and why), health as the server watches it (up, suspect, down, returning, since when), engine and API version, round trip, CPUs and memory, instances placed and their reservations, labels',
  usage: 'berth hosts [--json]',
  options: { json: { type: 'boolean' } },
  run: (context) =>
    remoteOr(context, async (client) => (await client.get<{ hosts: HostView[] }>('/v1/hosts')).hosts, () => withRun(context, (run) => fleetHosts(run))).then((hosts) => {
      if (context.flags.json) printJson(context.output, { hosts });
      else for (const line of hostsLines(hosts)) context.output.out(line);
      // The view answered even with hosts down: it reports them, as berth ps does.
      return 0;
    }),
};

/** The table, then a line per host that did not answer (with its reason) or is drained. */
export function hostsLines(hosts: readonly HostView[]): string[] {
  const rows = hosts.map((h) => [
    h.name,
    h.state,
    h.health === null || h.healthSince === null ? '-' : `${h.health} since ${clock(h.healthSince)}`,
    h.engine,
    h.version ?? '-',
    h.apiVersion ?? '-',
    h.rttMs === null ? '-' : `${h.rttMs} ms`,
    h.cpus === null ? '-' : String(h.cpus),
    h.memory === null ? '-' : formatBytes(h.memory),
    String(h.instances),
    `${h.reservedCpus}${h.cpus ? `/${h.cpus}` : ''}`,
    `${formatBytes(h.reservedMemory)}${h.memory ? `/${formatBytes(h.memory)}` : ''}`,
    Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
  ]);
  const lines = [table([['HOST', 'STATE', 'HEALTH', 'ENGINE', 'VERSION', 'API', 'RTT', 'CPUS', 'MEMORY', 'INSTANCES', 'RESERVED CPUS', 'RESERVED MEMORY', 'LABELS'], ...rows])];
  for (const h of hosts) {
    if ((h.health === 'down' || h.health === 'returning') && h.healthSince !== null) lines.push(`${h.name} ${h.health} since ${new Date(h.healthSince).toISOString()}: ${h.healthReason ?? ''}${h.health === 'returning' ? ` (gets nothing new until it settles, or "berth host undrain ${h.name}")` : ''}`);
    if (!h.reachable) lines.push(`${h.name} unreachable: ${h.error ?? 'no answer'}${h.draining ? ' (and draining)' : ''}`);
    else if (h.draining) lines.push(`${h.name} draining${h.drainReason ? ` (${h.drainReason})` : ''}: gets nothing new until "berth host undrain ${h.name}"`);
  }
  return lines;
}

/** HH:MM:SS in UTC: when a health state began (the JSON has the full time). */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
