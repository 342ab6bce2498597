import { frontDoorStatus } from '../../lb/front-door.js';
import type { FrontDoorStatus } from '../../lb/model.js';
import { doorPlaceOf } from '../../rollout/door-place.js';
import { doorId } from '../../rollout/front-door.js';
import { environmentOf } from '../../runtime/context.js';
import { listFleet, type InstanceStatus } from '../../runtime/instances.js';
import type { UnreachableHost } from '../../runtime/reach.js';
import { allFrontDoors } from '../../store/releases.js';
import { allSlots } from '../../store/deployments.js';
import type { Command } from '../command.js';
import { printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';

/** Each backend with the host its instance is on ('' when neither an engine nor the store knows it). */
type Door = Omit<FrontDoorStatus, 'servers'> & { servers: (Omit<FrontDoorStatus['servers'][number], 'state'> & { state: string; host: string })[]; service: string; environment: string };

/**
 * HAProxy's state of a backend, unless its container is gone (`missing`), does not run (`stopped`), or is on a host
 * that did not answer (`unknown`): the front door cannot know.
 */
export function backendState(state: string, container: InstanceStatus | undefined): string {
  if (container?.state === 'unknown') return 'unknown';
  if (!container) return 'missing';
  return container.state === 'running' ? state : 'stopped';
}

export const lbCommand: Command = {
  name: 'lb',
  summary: "each service's front door: its address, its members (host, state, MASTER or BACKUP, keepalived when it does not run), backends with weight and state (missing: no container), and its request and error counters",
  usage: 'berth lb [--env <env>] [--json]',
  options: { env: { type: 'string', short: 'e' }, json: { type: 'boolean' } },
  run: (context) =>
    withRun(context, async (run) => {
      const only = typeof context.flags.env === 'string' ? environmentOf(run.project, context.flags.env).name : undefined;
      const rows = await allFrontDoors(run.db);
      const doors: Door[] = [];
      const unreachable = new Map<string, UnreachableHost>();
      const slots = await allSlots(run.db);
      for (const row of rows.filter((r) => only === undefined || r.environment === only)) {
        const environment = run.project.environments.get(row.environment);
        if (!environment) continue;
        const status = await frontDoorStatus({ id: doorId(row.service, row.environment), bind: { address: row.address, port: row.port } }, doorPlaceOf(run, environment));
        const listing = await listFleet(run, { environment: row.environment, service: row.service, withMissing: true });
        for (const u of listing.unreachable) unreachable.set(u.host, u);
        const servers = status.servers.map((s) => {
          const container = listing.instances.find((c) => c.slot === s.name && c.state !== 'set-aside' && c.state !== 'missing');
          const host = container?.host ?? slots.find((r) => r.environment === row.environment && r.slot === s.name)?.host ?? '';
          return { ...s, host, state: backendState(s.state, container) };
        });
        doors.push({ ...status, servers, service: row.service, environment: row.environment });
      }
      if (context.flags.json) {
        printJson(context.output, { frontDoors: doors, unreachable: [...unreachable.values()] });
        return 0;
      }
      if (doors.length === 0) {
        context.output.out('no front doors yet: a release creates one per service and environment (berth release <service> --env <env>)');
        return 0;
      }
      for (const d of doors) {
        const f = d.frontend;
        context.output.out(`${d.service} in ${d.environment}: http://${d.address}/${d.running ? '' : ' (not running)'}; requests ${f.requests}, 5xx ${f.responses['5xx']}, retries ${d.backend.retries}`);
        for (const m of d.members) context.output.out(`  door on ${m.host}: ${m.state}${m.role ? ` ${m.role}` : ''}${m.keepalived !== undefined && m.keepalived !== 'running' ? `, keepalived ${m.keepalived}` : ''}, requests ${m.frontend.requests}${m.problem ? ` (${m.problem})` : ''}`);
        if (d.servers.length > 0) {
          const servers = d.servers.map((s) => [s.name, s.host || '-', s.address, String(s.weight), s.state, s.status, String(s.current), String(s.requests), String(s.responses['2xx']), String(s.responses['5xx']), String(s.errors.connect + s.errors.response + s.errors.redispatched)]);
          context.output.out(table([['  BACKEND', 'HOST', 'ADDRESS', 'WEIGHT', 'STATE', 'STATUS', 'NOW', 'REQUESTS', '2XX', '5XX', 'ERRORS'], ...servers.map((r) => [`  ${r[0]}`, ...r.slice(1)])]));
        }
      }
      for (const u of unreachable.values()) context.output.out(`host ${u.host} unreachable: ${u.error}; its backends are shown as unknown`);
      return 0;
    }),
};
