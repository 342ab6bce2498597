/** Removing an instance for good: its container, its address (into quarantine) and its slot record. */
import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Ipam } from '../network/ipam.js';
import { forgetSlot } from '../store/deployments.js';
import type { RunContext } from '../runtime/context.js';

export interface InstanceRef {
  host: string;
  id: string;
  slot: string;
  graceSeconds: number;
  environment: string;
  network: { mode: string; name: string };
}

/** `record` runs the store's part (address and slot record) as one write: a rollout's goes through its lease. */
export async function removeInstance(context: RunContext, ipam: Ipam, instance: InstanceRef, record: <T>(write: () => Promise<T>) => Promise<T> = (write) => write()): Promise<string | undefined> {
  // A slot whose container is already gone (id '') has only its address and records left.
  if (instance.id !== '') {
    const engine = context.hosts.engine(instance.host);
    await engine.containers.stop(instance.id, instance.graceSeconds).catch(() => {});
    await engine.containers.remove(instance.id);
  }
  const released = await record(async () => {
    const address = instance.network.mode === 'flat' ? await ipam.releaseAddress(instance.network.name, instance.slot) : undefined;
    await forgetSlot(context.db, instance.environment, instance.slot);
    return address;
  });
  removeLegacySecrets(context.project.stateDir, instance.environment, instance.slot);
  return released?.ip;
}

/**
 * Before secrets were copied into containers, Berth wrote them to
 * `<state dir>/secrets/<env>/<slot>/` for a bind mount; a container made then
 * may still mount its folder, so it goes only with its slot, and the tree once empty.
 */
function removeLegacySecrets(stateDir: string, environment: string, slot: string): void {
  const root = join(stateDir, 'secrets');
  rmSync(join(root, environment, slot), { recursive: true, force: true });
  for (const dir of [join(root, environment), root]) {
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      return;
    }
  }
}
