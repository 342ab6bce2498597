/**
 * The front door of a service in an environment, on Berth's HAProxy module:
 * its port (berth.yaml's lb_port, else the one picked on first use and kept),
 * where its members run, and the Door operations rollouts use.
 */
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import { environmentOf, type RunContext } from '../runtime/context.js';
import { doorAddress, ensureFrontDoor, freePort, frontDoorStatus, runningRuntimes, stopFrontDoor, syncServers } from '../lb/front-door.js';
import type { FrontDoorSpec, FrontDoorStatus, LbServer } from '../lb/model.js';
import { lbServerOf } from '../lb/runtime-api.js';
import { inTransaction, type Store } from '../store/db.js';
import { requireLeaderEpoch } from '../store/leases.js';
import { forgetFrontDoorPort, frontDoorPort, saveFrontDoorPort } from '../store/releases.js';
import type { Door, DoorServer } from './door.js';
import { doorId, doorPlaceOf } from './door-place.js';

/** The front door's spec: its port is berth.yaml's lb_port, else the one kept in the store, else a free one. Reads only. */
export async function frontDoorSpecOf(run: RunContext, service: string, environment: EnvironmentSpec): Promise<Omit<FrontDoorSpec, 'servers'>> {
  const configured = environment.services[service]?.lbPort;
  const kept = await frontDoorPort(run.db, service, environment.name);
  const address = environment.lbAddress;
  const port = configured ?? (kept?.address === address ? kept.port : await freePort(address));
  return { id: doorId(service, environment.name), bind: { address, port } };
}

export { doorId } from './door-place.js';

export async function frontDoorFor(run: RunContext, service: ServiceSpec, environment: EnvironmentSpec): Promise<Door> {
  const base = await frontDoorSpecOf(run, service.name, environment);
  const place = doorPlaceOf(run, environment);
  // The port is recorded once the front door runs on it (the front-door step), never by computing the spec.
  const record = async () => {
    const kept = await frontDoorPort(run.db, service.name, environment.name);
    if (kept?.port !== base.bind.port || kept.address !== base.bind.address) {
      await underLeaderEpoch(run, `recording the front door's port of ${service.name} in ${environment.name}`, (db) => saveFrontDoorPort(db, service.name, environment.name, base.bind.address, base.bind.port));
    }
  };
  const ready = (s: DoorServer): LbServer => ({ ...s, state: 'ready' });
  // The servers as the members have them (the first member that answers: every change goes to all of them), and the read they come from.
  const current = async (): Promise<{ servers: LbServer[]; seen: FrontDoorStatus }> => {
    const seen = await frontDoorStatus(base, place);
    const member = seen.members.find((m) => m.state === 'running' && m.problem === undefined);
    return { servers: (member?.servers ?? seen.servers).map(lbServerOf), seen };
  };
  // Every change goes through the config file too, so a restarted HAProxy comes back as it was.
  const change = async (name: string, edit: (s: LbServer) => LbServer): Promise<boolean> => {
    const { servers, seen } = await current();
    if (!servers.some((s) => s.name === name)) return false;
    await syncServers({ ...base, servers: servers.map((s) => (s.name === name ? edit(s) : s)) }, place, {}, seen);
    return true;
  };
  // Slots of a batch change in parallel; each change reads the servers and writes them all back, so they take turns.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(change: () => Promise<T>): Promise<T> => {
    const next = queue.then(change, change);
    queue = next.catch(() => {});
    return next;
  };
  return {
    address: doorAddress(place, base.bind.address),
    port: base.bind.port,
    sync: (servers) => serial(() => ensureFrontDoor({ ...base, servers: servers.map(ready) }, place).then(record)),
    async close() {
      await serial(() => stopFrontDoor(base.id, place));
      await underLeaderEpoch(run, `forgetting the front door's port of ${service.name} in ${environment.name}`, (db) => forgetFrontDoorPort(db, service.name, environment.name));
    },
    upsert: (server) =>
      serial(async () => {
        const { servers, seen } = await current();
        await syncServers({ ...base, servers: [...servers.filter((s) => s.name !== server.name), ready(server)] }, place, {}, seen);
      }),
    async drain(name, timeoutMs) {
      const present = await serial(() => change(name, (s) => ({ ...s, state: 'drain' })));
      if (!present) return true;
      const drained = await Promise.all((await runningRuntimes(base.id, place)).map((runtime) => runtime.waitDrained(name, timeoutMs)));
      return drained.every(Boolean);
    },
    remove: (name) =>
      serial(async () => {
        const { servers, seen } = await current();
        await syncServers({ ...base, servers: servers.filter((s) => s.name !== name) }, place, {}, seen);
      }),
    async setWeight(name, weight) {
      await serial(() => change(name, (s) => ({ ...s, weight })));
    },
    // The counters of every member, summed: a canary is judged on what all of them sent it.
    async stats() {
      const status = await frontDoorStatus(base, place);
      return status.servers.map((s) => ({
        name: s.name,
        weight: s.weight,
        state: s.state,
        requests: s.requests,
        // Retried requests never reach the 5xx counters: redispatches count the instance's failures.
        errors: s.responses['5xx'] + s.errors.connect + s.errors.response + s.errors.redispatched,
      }));
    },
  };
}

/**
 * A write of the door's recorded port. In a server sharing its store, it is made in one transaction
 * with the check of this server's leader epoch, like every other write of a rollout: refused
 * (`LostLeadership`), with nothing written, once this server stopped acting or a newer epoch exists.
 */
export async function underLeaderEpoch(run: Pick<RunContext, 'db' | 'leader'>, what: string, write: (db: Store) => Promise<void>): Promise<void> {
  const leader = run.leader;
  if (!leader) return write(run.db);
  await inTransaction(run.db, async (tx) => {
    await requireLeaderEpoch(tx, leader, what);
    await write(tx);
  });
}

/** The front door Berth recorded for the service in the environment, as `berth lb` reads it; undefined if it never had one. */
export async function recordedDoorStatus(run: RunContext, service: string, environment: string): Promise<FrontDoorStatus | undefined> {
  const bind = await frontDoorPort(run.db, service, environment);
  if (!bind) return undefined;
  return frontDoorStatus({ id: doorId(service, environment), bind }, doorPlaceOf(run, environmentOf(run.project, environment)));
}

/** Stops and removes the service's door in the environment (its port stays recorded); false when none ran. */
export function stopDoorOf(run: RunContext, service: string, environment: string, graceMs?: number): Promise<boolean> {
  return stopFrontDoor(doorId(service, environment), doorPlaceOf(run, environmentOf(run.project, environment)), graceMs);
}
