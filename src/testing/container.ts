/**
 * One container of a built image, for the tests of what runs inside it (the
 * entrypoint, runtime scripts, the health probe) without a deploy. Labelled
 * with the fixture's project, so its cleanup removes it.
 */
import { RUN_LABELS } from '../runtime/labels.js';
import type { Engine } from '../engine/client.js';
import type { ContainerState, CreateBody } from '../engine/containers.js';

export interface TestContainer {
  project: string;
  service: string;
  environment: string;
  /** Container name and hostname. */
  instance: string;
  image: string;
  /** Bind mounts, "host-path:container-path[:ro]". */
  binds?: string[];
  stopGraceSeconds?: number;
  healthcheck?: CreateBody['Healthcheck'];
  /** Runs between create and start (e.g. to copy files in, as a deploy does). */
  beforeStart?: (id: string) => Promise<void>;
}

/** What a deploy gives every instance (Berth's variables, labels, the engine's init), and nothing else. */
export function testContainerBody(spec: TestContainer): CreateBody {
  return {
    name: spec.instance,
    Hostname: spec.instance,
    Image: spec.image,
    Env: [`BERTH_SERVICE=${spec.service}`, `BERTH_ENV=${spec.environment}`, `BERTH_INSTANCE=${spec.instance}`, `BERTH_HOSTNAME=${spec.instance}`],
    Labels: { [RUN_LABELS.project]: spec.project, [RUN_LABELS.service]: spec.service, [RUN_LABELS.environment]: spec.environment, [RUN_LABELS.instance]: spec.instance },
    StopTimeout: spec.stopGraceSeconds ?? 10,
    ...(spec.healthcheck ? { Healthcheck: spec.healthcheck } : {}),
    HostConfig: { Init: true, ...(spec.binds && spec.binds.length > 0 ? { Binds: spec.binds } : {}) },
  };
}

/** Creates and starts the container, replacing one of the same name; returns what the engine applied. */
export async function startTestContainer(engine: Engine, spec: TestContainer): Promise<ContainerState> {
  await engine.containers.remove(spec.instance);
  const id = await engine.containers.create(testContainerBody(spec));
  await spec.beforeStart?.(id);
  await engine.containers.start(id);
  const state = await engine.containers.inspect(id);
  if (!state) throw new Error(`container ${spec.instance} vanished right after it started`);
  return state;
}
