import { Ipam, type Allocation } from '../../network/ipam.js';
import { allSlots } from '../../store/deployments.js';
import { projectPools } from '../../network/pool.js';
import { withWorkspace, type Command } from '../command.js';
import { formatDuration, printJson, table, type Output } from '../output.js';

export const ipamCommand: Command = {
  name: 'ipam',
  summary: "flat networks' address pools: usage, allocations, their owners and the hosts they live on, quarantined addresses",
  usage: 'berth ipam [--json]',
  options: { json: { type: 'boolean' } },
  run: (context) =>
    withWorkspace(context, async ({ project, db }) => {
      const now = Date.now();
      const ipam = new Ipam(db, projectPools(project));
      const pools = await Promise.all(ipam.pools.map(async (pool) => ({ ...pool, usage: await ipam.usage(pool.network) })));
      // Where the address lives now: the host of the slot's container (a moved slot keeps its address on its new host).
      const hostOf = new Map((await allSlots(db)).map((s) => [s.slot, s.host]));
      const allocations = (await ipam.allocations()).map((a) => ({ ...a, host: a.state === 'quarantined' || a.slot === null ? null : (hostOf.get(a.slot) ?? null), quarantineEndsAt: ipam.quarantineEndsAt(a) }));
      if (context.flags.json) {
        printJson(context.output, { pools, allocations });
        return 0;
      }
      if (pools.length === 0) context.output.out(`no flat networks in ${project.file}; IPAM manages the addresses of flat networks only`);
      else {
        const poolRows = pools.map((p) => [p.network, p.subnet, p.gateway, `${p.first}-${p.last}`, ...[p.usage.size, p.usage.bound, p.usage.allocated, p.usage.quarantined, p.usage.free].map(String), p.reserved.join(',')]);
        context.output.out(table([['POOL', 'SUBNET', 'GATEWAY', 'RANGE', 'SIZE', 'BOUND', 'ALLOCATED', 'QUARANTINED', 'FREE', 'RESERVED'], ...poolRows]));
      }
      if (pools.length > 0 || allocations.length > 0) printAllocations(context.output, allocations, now);
      return 0;
    }),
};

function printAllocations(output: Output, allocations: (Allocation & { host: string | null; quarantineEndsAt: number | null })[], now: number): void {
  output.out('');
  if (allocations.length === 0) {
    output.out('no addresses allocated yet');
    return;
  }
  const rows = allocations.map((a) => [
    a.network,
    a.ip,
    a.mac,
    a.slot ?? '-',
    String(a.incarnation),
    stateOf(a, now),
    a.containerId ? a.containerId.slice(0, 12) : '-',
    a.host ?? '-',
    `${formatDuration(Math.max(0, now - (a.releasedAt ?? a.allocatedAt)))} ago`,
  ]);
  output.out(table([['NETWORK', 'ADDRESS', 'MAC', 'SLOT', 'INCARNATION', 'STATE', 'CONTAINER', 'HOST', 'SINCE'], ...rows]));
}

function stateOf(a: Allocation & { quarantineEndsAt: number | null }, now: number): string {
  if (a.state !== 'quarantined') return a.state;
  if (a.quarantineEndsAt === null) return 'quarantined (network has no pool now)';
  const left = a.quarantineEndsAt - now;
  return left > 0 ? `quarantined, ${formatDuration(left)} left` : 'released (free)';
}
