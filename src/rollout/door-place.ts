/**
 * Where an environment's front doors run: on the hosts its `front_door` names
 * (each a member), else on the engine Berth builds with (the single-machine
 * default). The door image is built on each member's engine by the hierarchy
 * builder, once per key.
 */
import type { EnvironmentSpec } from '../config/model.js';
import { unavailable } from '../errors.js';
import { DOOR_IMAGE } from '../lb/door-image.js';
import type { DoorMember, DoorPlace } from '../lb/front-door.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import type { RunContext } from '../runtime/context.js';

export function doorPlaceOf(run: RunContext, environment: EnvironmentSpec): DoorPlace {
  const members = doorMembers(run, environment);
  const images = new Map<string, Promise<string>>();
  return {
    project: run.project.name,
    members,
    image: (member) => {
      if (environment.frontDoor?.address !== undefined) {
        // keepalived's configuration is not written yet: a door on two or more hosts would bind an address nobody holds.
        return Promise.reject(
          unavailable(`environment ${environment.name}: front doors sharing ${environment.frontDoor.address} between ${environment.frontDoor.hosts.join(', ')} (VRRP) are not supported by this version of Berth yet`, {
            fix: 'name one host under front_door.hosts (without address) for now',
          }),
        );
      }
      const known = images.get(member.host);
      if (known) return known;
      const built = ensureSystemImage(DOOR_IMAGE, { engine: member.engine, db: run.db, env: run.env, build: run.project.build });
      images.set(member.host, built);
      return built;
    },
  };
}

function doorMembers(run: RunContext, environment: EnvironmentSpec): DoorMember[] {
  if (environment.frontDoor) {
    return environment.frontDoor.hosts.map((host) => ({ host, engine: run.hosts.engine(host), local: run.hosts.isLocal(host), address: run.hosts.address(host) }));
  }
  const engine = run.hosts.buildEngine();
  const host = run.project.hosts.find((h) => run.hosts.isBuildEngine(h.name))?.name ?? 'local';
  return [{ host, engine, local: engine.endpoint.startsWith('unix://') }];
}
