/**
 * Where an environment's front doors run: on the hosts its `front_door` names
 * (each a member), else on the engine Berth builds with (the single-machine
 * default). The door image is built on each member's engine by the hierarchy
 * builder, once per key. With a shared address, keepalived runs beside the
 * environment's doors on each member (lb/vrrp.ts), settled after every change.
 */
import type { EnvironmentSpec } from '../config/model.js';
import { DOOR_IMAGE } from '../lb/door-image.js';
import type { DoorMember, DoorPlace } from '../lb/front-door.js';
import { settleVrrp } from '../lb/vrrp.js';
import { vrrpContainerName } from '../lb/vrrp-container.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import type { RunContext } from '../runtime/context.js';

export function doorPlaceOf(run: RunContext, environment: EnvironmentSpec): DoorPlace {
  const members = doorMembers(run, environment);
  const images = new Map<string, Promise<string>>();
  const image = (member: DoorMember): Promise<string> => {
    const known = images.get(member.host);
    if (known) return known;
    const built = ensureSystemImage(DOOR_IMAGE, { engine: member.engine, db: run.db, env: run.env, build: run.project.build });
    images.set(member.host, built);
    return built;
  };
  const shared = environment.frontDoor?.address;
  if (shared === undefined) return { project: run.project.name, members, image };
  const vrrp = { project: run.project.name, environment: environment.name, address: shared, doorIds: [...run.project.services.keys()].map((service) => doorId(service, environment.name)), members, image };
  return { project: run.project.name, members, image, vrrp: { address: shared, container: vrrpContainerName(run.project.name, environment.name), settle: () => settleVrrp(vrrp) } };
}

/** environment-service: the door's name in messages and in its container's name. */
export function doorId(service: string, environment: string): string {
  return `${environment}-${service}`;
}

function doorMembers(run: RunContext, environment: EnvironmentSpec): DoorMember[] {
  if (environment.frontDoor) {
    return environment.frontDoor.hosts.map((host) => ({ host, engine: run.hosts.engine(host), local: run.hosts.isLocal(host), address: run.hosts.address(host) }));
  }
  const engine = run.hosts.buildEngine();
  const host = run.project.hosts.find((h) => run.hosts.isBuildEngine(h.name))?.name ?? 'local';
  return [{ host, engine, local: engine.endpoint.startsWith('unix://') }];
}
