/**
 * What both crash tests (rollout/crash-on-fake.test.ts on the FakeEngine,
 * release/crash.int.test.ts on the real engine) check after a killed rollout
 * was resumed or undone: every slot runs the release's image with an address,
 * and IPAM holds exactly those addresses, bound to those containers.
 */
import assert from 'node:assert/strict';
import type { Engine } from '../engine/client.js';
import { ipamOf, type RunContext } from '../runtime/context.js';
import { listInstances, type InstanceStatus } from '../runtime/instances.js';

export async function assertSlotsHoldTheirAddresses(ctx: RunContext, engine: Engine, slots: string[], imageId: string, label: string): Promise<InstanceStatus[]> {
  const instances = await listInstances(ctx, { environment: 'dev', service: 'web' });
  assert.deepEqual(instances.map((i) => [i.slot, i.state]), slots.map((s) => [s, 'running']), `${label}: instances`);
  for (const i of instances) {
    const state = (await engine.containers.inspect(i.id))!;
    assert.equal(state.image, imageId, `${label}: ${i.slot} runs image ${state.image}`);
    assert.ok(i.ip && i.mac, `${label}: ${i.slot} has no address`);
  }

  // IPAM: exactly their addresses, bound to them; nothing allocated and unbound.
  const live = (await ipamOf(ctx).allocations('lan')).filter((a) => a.state !== 'quarantined');
  assert.deepEqual(
    live.map((a) => [a.slot, a.state, a.containerId, a.ip, a.mac]).sort(),
    instances.map((i) => [i.slot, 'bound', i.id, i.ip, i.mac!.toLowerCase()]).sort(),
    `${label}: IPAM ${JSON.stringify(live)}`,
  );
  return instances;
}
