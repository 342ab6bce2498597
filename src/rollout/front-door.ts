/**
 * The front door of a service in an environment, on Berth's HAProxy module:
 * its port (berth.yaml's lb_port, else the one picked on first use and kept),
 * its folder under the state directory, and the Door operations rollouts use.
 */
import { frontDoorDir } from '../lb/paths.js';
import type { EnvironmentSpec, ServiceSpec } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import { ensureFrontDoor, freePort, frontDoorStatus, stopFrontDoor, syncServers } from '../lb/front-door.js';
import type { FrontDoorSpec, LbServer } from '../lb/model.js';
import { HaproxyRuntime, lbServerOf } from '../lb/runtime-api.js';
import { frontDoorFiles } from '../lb/haproxy-config.js';
import { forgetFrontDoorPort, frontDoorPort, saveFrontDoorPort } from '../store/releases.js';
import type { Door, DoorServer } from './door.js';

/** The front door's spec: its port is berth.yaml's lb_port, else the one kept in the store, else a free one. Reads only. */
export async function frontDoorSpecOf(run: RunContext, service: string, environment: EnvironmentSpec): Promise<Omit<FrontDoorSpec, 'servers'>> {
  const configured = environment.services[service]?.lbPort;
  const kept = await frontDoorPort(run.db, service, environment.name);
  const address = environment.lbAddress;
  const port = configured ?? (kept?.address === address ? kept.port : await freePort(address));
  return { id: `${environment.name}-${service}`, bind: { address, port }, dir: frontDoorDir(run.project.stateDir, service, environment.name) };
}

export async function frontDoorFor(run: RunContext, service: ServiceSpec, environment: EnvironmentSpec): Promise<Door> {
  const base = await frontDoorSpecOf(run, service.name, environment);
  // The port is recorded once the front door runs on it (the front-door step), never by computing the spec.
  const record = async () => {
    const kept = await frontDoorPort(run.db, service.name, environment.name);
    if (kept?.port !== base.bind.port || kept.address !== base.bind.address) await saveFrontDoorPort(run.db, service.name, environment.name, base.bind.address, base.bind.port);
  };
  const runtime = new HaproxyRuntime(frontDoorFiles(base.dir).socket);
  const ready = (s: DoorServer): LbServer => ({ ...s, state: 'ready' });
  const current = async (): Promise<LbServer[]> => (await frontDoorStatus(base)).servers.map(lbServerOf);
  // Every change goes through the config file too, so a restarted HAProxy comes back as it was.
  const change = async (name: string, edit: (s: LbServer) => LbServer): Promise<boolean> => {
    const servers = await current();
    if (!servers.some((s) => s.name === name)) return false;
    await syncServers({ ...base, servers: servers.map((s) => (s.name === name ? edit(s) : s)) });
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
    address: base.bind.address,
    port: base.bind.port,
    sync: (servers) => serial(() => ensureFrontDoor({ ...base, servers: servers.map(ready) }).then(record)),
    async close() {
      await serial(() => stopFrontDoor(base.dir));
      await forgetFrontDoorPort(run.db, service.name, environment.name);
    },
    upsert: (server) =>
      serial(async () => {
        const others = (await current()).filter((s) => s.name !== server.name);
        await syncServers({ ...base, servers: [...others, ready(server)] });
      }),
    async drain(name, timeoutMs) {
      const present = await serial(() => change(name, (s) => ({ ...s, state: 'drain' })));
      return present ? runtime.waitDrained(name, timeoutMs) : true;
    },
    remove: (name) =>
      serial(async () => {
        const left = (await current()).filter((s) => s.name !== name);
        await syncServers({ ...base, servers: left });
      }),
    async setWeight(name, weight) {
      await serial(() => change(name, (s) => ({ ...s, weight })));
    },
    async stats() {
      const status = await frontDoorStatus(base);
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

export { frontDoorDir };
