/**
 * Moving instances to other hosts as a rollout plan (pure): which host each
 * slot goes to, and the batches that take them there through the front door.
 */
import { conflict } from '../errors.js';
import type { RolloutStep } from './rollout-plan.js';

export interface SlotOnHost {
  slot: string;
  ordinal: number;
  host: string;
}

export interface MoveSettings {
  batchSize: number;
  maxUnavailable: number;
}

/**
 * A new host for every slot on a host in `leave`: the ready host (in the environment, not left)
 * holding the fewest of the service's instances, ties by the environment's host order.
 * Capacity is PLACEMENT's planner's job (prepareTarget's `leave`); this only spreads.
 */
export function chooseDestinations(service: string, environment: string, slots: readonly SlotOnHost[], hosts: readonly string[], leave: ReadonlySet<string>): Map<string, string> {
  const ready = hosts.filter((h) => !leave.has(h));
  const moving = [...slots].filter((s) => leave.has(s.host)).sort((a, b) => a.ordinal - b.ordinal);
  if (moving.length === 0) return new Map();
  if (ready.length === 0) {
    throw conflict(`${service} in ${environment} has no other host to move to: its hosts ${hosts.join(', ')} are all being left (draining)`, {
      fix: `add a host to environments.${environment}.hosts in berth.yaml, or undrain one: berth host undrain <host>`,
    });
  }
  const load = new Map(ready.map((h) => [h, slots.filter((s) => s.host === h).length]));
  const destinations = new Map<string, string>();
  for (const s of moving) {
    const host = ready.reduce((best, h) => (load.get(h)! < load.get(best)! ? h : best), ready[0]!);
    load.set(host, load.get(host)! + 1);
    destinations.set(s.slot, host);
  }
  return destinations;
}

/**
 * The steps that move `moves` (slot → new host): the front door first, then batches of
 * drain + replace-on-the-new-host, then converge on `replicas`. A moved slot keeps its
 * address, so it cannot run in two places at once: there is no surge, and a batch is
 * at most max_unavailable (at least 1) and the batch size.
 */
export function planMoves(moves: ReadonlyMap<string, string>, replicas: number, settings: MoveSettings, ordinalOf: (slot: string) => number): RolloutStep[] {
  if (moves.size === 0) return [];
  const slots = [...moves.keys()].sort((a, b) => ordinalOf(a) - ordinalOf(b));
  const batch = Math.max(1, Math.min(settings.batchSize, settings.maxUnavailable));
  const steps: RolloutStep[] = [{ op: 'front-door' }];
  for (let i = 0; i < slots.length; i += batch) {
    const slice = slots.slice(i, i + batch);
    steps.push({ op: 'drain', slots: slice }, { op: 'replace', slots: slice, to: Object.fromEntries(slice.map((s) => [s, moves.get(s)!])) });
  }
  steps.push({ op: 'converge', replicas });
  return steps;
}
