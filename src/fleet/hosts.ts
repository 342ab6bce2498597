/**
 * The fleet's hosts as `berth hosts` shows them: every engine asked at once
 * (version, then capacity), the store read for states and placed slots. The
 * one core an HTTP API calls too.
 */
import type { RunContext } from '../runtime/context.js';
import { reachHosts } from '../runtime/reach.js';
import { allSlots } from '../store/deployments.js';
import { hostStates } from '../store/hosts.js';
import { hostHealth } from '../store/host-health.js';
import { hostsView, type HostView } from './hosts-view.js';

export async function fleetHosts(run: RunContext): Promise<HostView[]> {
  const { project, hosts, db } = run;
  const reach = await reachHosts(hosts, project.hosts.map((h) => h.name));
  const capacity = new Map(
    await Promise.all(
      reach
        .filter((r) => r.reachable)
        .map(async (r) => {
          try {
            const info = await hosts.engine(r.host).info();
            return [[r.host, { cpus: info.cpus, memoryBytes: info.memoryBytes }] as const];
          } catch {
            // It answered its version; capacity unknown is shown as such rather than failing the whole view.
            return [];
          }
        }),
    ).then((pairs) => pairs.flat()),
  );
  const resources = new Map([...project.services.values()].map((s) => [s.name, s.resources]));
  return hostsView({ hosts: project.hosts, reach, capacity, draining: await hostStates(db), health: await hostHealth(db), slots: await allSlots(db), resources });
}
