/** Removing an instance for good: its container, its address (into quarantine), its slot record and its secrets. */
import type { Ipam } from '../network/ipam.js';
import { forgetSlot } from '../store/deployments.js';
import type { RunContext } from './context.js';
import { removeSlotSecrets } from './secrets.js';

export interface InstanceRef {
  host: string;
  id: string;
  slot: string;
  graceSeconds: number;
  environment: string;
  network: { mode: string; name: string };
}

export async function removeInstance(context: RunContext, ipam: Ipam, instance: InstanceRef): Promise<string | undefined> {
  // A slot whose container is already gone (id '') has only its address and records left.
  if (instance.id !== '') {
    const engine = context.hosts.engine(instance.host);
    await engine.containers.stop(instance.id, instance.graceSeconds).catch(() => {});
    await engine.containers.remove(instance.id);
  }
  const released = instance.network.mode === 'flat' ? ipam.releaseAddress(instance.network.name, instance.slot) : undefined;
  forgetSlot(context.db, instance.environment, instance.slot);
  removeSlotSecrets(context.project.stateDir, instance.environment, instance.slot);
  return released?.ip;
}
