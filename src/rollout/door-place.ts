/**
 * Where an environment's front doors run: on the engine Berth builds with (the
 * single-machine default), with the door image built there once by the
 * hierarchy builder.
 */
import type { EnvironmentSpec } from '../config/model.js';
import { DOOR_IMAGE } from '../lb/door-image.js';
import type { DoorMember, DoorPlace } from '../lb/front-door.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import type { RunContext } from '../runtime/context.js';

export function doorPlaceOf(run: RunContext, _environment: EnvironmentSpec): DoorPlace {
  const engine = run.hosts.buildEngine();
  const host = run.project.hosts.find((h) => run.hosts.isBuildEngine(h.name))?.name ?? 'local';
  const member: DoorMember = { host, engine, local: engine.endpoint.startsWith('unix://') };
  let image: Promise<string> | undefined;
  return {
    project: run.project.name,
    members: [member],
    image: () => (image ??= ensureSystemImage(DOOR_IMAGE, { engine, db: run.db, env: run.env, build: run.project.build })),
  };
}
