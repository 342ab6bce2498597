import type { Engine } from '../engine/client.js';
import type { ContainerState } from '../engine/containers.js';
import { failed } from '../errors.js';
import { containerBody, type InstanceSpec } from './container-body.js';

/** Creates and starts one instance, replacing a container of the same name; returns what the engine applied. */
export async function startInstance(engine: Engine, spec: InstanceSpec): Promise<ContainerState> {
  await engine.containers.remove(spec.instance);
  const id = await engine.containers.create(containerBody(spec));
  await engine.containers.start(id);
  const state = await engine.containers.inspect(id);
  if (!state) throw failed(`container ${spec.instance} vanished right after it started`);
  return state;
}

/** Polls until `probe` answers true, the container exits, or the deadline passes. */
export async function waitUntil(engine: Engine, id: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return 'ready';
    const state = await engine.containers.inspect(id);
    if (!state?.running) return 'exited';
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 'timeout';
}
