/**
 * A rollout as a plan of steps, computed from what runs and what should:
 * plain JSON, journaled in the store as it advances, so a killed rollout can
 * be resumed. Every step is idempotent against what the engines report.
 */
import { invalid } from '../errors.js';
import type { PrepareStep } from './prepare-step.js';

export type RolloutStep =
  /** The front door runs, with the healthy instances that are there. */
  | { op: 'front-door' }
  /** New slots of the target release (scale up, first rollout), health-gated, then in the load balancer. */
  | { op: 'create'; slots: string[] }
  /** Temporary extra instances of the target release, so capacity does not drop during the batches. */
  | { op: 'surge'; slots: string[] }
  /** No new requests for these slots; in-flight ones finish (bounded by the drain time). */
  | { op: 'drain'; slots: string[] }
  /**
   * Old instance set aside, new one launched on the same slot and address, health-gated, back in the load balancer, old one removed.
   * `force`: also when it is up to date (`berth deploy --force`). `to`: slot → the host it moves to (a move keeps the slot's address).
   */
  | { op: 'replace'; slots: string[]; force?: boolean; to?: Record<string, string> }
  /** Drain and remove for good: surge instances, canaries, surplus slots; addresses go into quarantine. */
  | { op: 'remove'; slots: string[] }
  /** Canary instances of the target release beside the others, with `share` of the traffic. */
  | { op: 'canary'; slots: string[]; share: number }
  /** Leftovers and slots above `replicas` removed; the load balancer holds exactly the running instances at normal weights. */
  | { op: 'converge'; replicas: number }
  | OperationStep
  /** Before any instance changes: networks, old names, addresses, the release row, pulls (prepare-step.ts). */
  | PrepareStep;

/**
 * Steps of the rollouts that act on what runs (ops-steps.ts): `at` is slot → the host it runs on, so
 * a step asks only the engines of its slots (a stop on one host works while another does not answer).
 */
export type OperationStep =
  /** Each slot's container restarted in place, then health-gated (one slot per step: the service never goes fully down). */
  | { op: 'restart'; slots: string[]; at: Record<string, string> }
  /** The slots' containers stopped; they keep their slots and addresses. */
  | { op: 'stop'; slots: string[]; at: Record<string, string> }
  /** The slots' containers removed (not drained: `berth rm`), addresses into quarantine, slot records forgotten. */
  | { op: 'rm'; slots: string[]; at: Record<string, string> }
  /** Nothing of the service runs any more: its front door stops (its port stays reserved) and its deployed-digest references end. */
  | { op: 'retire' }
  /** A slot with a set-aside container and no running main one gets it back (`berth rollout abandon`). */
  | { op: 'restore'; slots: string[] }
  /** Leftovers removed and the front door holding exactly the running instances, whatever their count (an abandon's end). */
  | { op: 'tidy' };

export interface RolloutPlan {
  /** The release the rollout moves to. */
  target: number;
  phase: 'forward' | 'rollback';
  /** Why a rollback started. */
  reason?: string;
  /** A scale's replica count before it: what its rollback goes back to. */
  replicasBefore?: number;
  /** An abandon's: the interrupted rollout it ends. */
  abandons?: number;
  steps: RolloutStep[];
}

export interface SlotState {
  slot: string;
  ordinal: number;
  /** Runs the target release and its settings already (and is running). */
  current: boolean;
}

export interface RollingSettings {
  batchSize: number;
  maxUnavailable: number;
  maxSurge: number;
}

export function slotOf(service: string, environment: string, ordinal: number): string {
  return `${service}-${environment}-${ordinal}`;
}

/**
 * Rolling update to `replicas` instances: new slots first (they add capacity),
 * then surge instances, then the outdated slots in batches of at most
 * batchSize and maxUnavailable + maxSurge, then surge and surplus removed.
 */
export function planRolling(service: string, environment: string, replicas: number, slots: readonly SlotState[], settings: RollingSettings): RolloutStep[] {
  if (settings.maxUnavailable === 0 && settings.maxSurge === 0) {
    throw invalid(`services.${service}.rollout: max_unavailable and max_surge are both 0, so no instance could ever be replaced`, { fix: 'set max_unavailable: 1 or max_surge: 1' });
  }
  const byOrdinal = new Map(slots.map((s) => [s.ordinal, s]));
  const wanted = Array.from({ length: replicas }, (_, i) => i + 1);
  const create = wanted.filter((n) => !byOrdinal.has(n)).map((n) => slotOf(service, environment, n));
  const outdated = wanted.filter((n) => byOrdinal.has(n) && !byOrdinal.get(n)!.current).map((n) => slotOf(service, environment, n));
  const surplus = slots.filter((s) => s.ordinal > replicas).sort((a, b) => a.ordinal - b.ordinal).map((s) => s.slot);
  const highest = Math.max(replicas, ...slots.map((s) => s.ordinal));
  const surge = outdated.length === 0 ? [] : Array.from({ length: Math.min(settings.maxSurge, outdated.length) }, (_, i) => slotOf(service, environment, highest + 1 + i));
  const batch = Math.max(1, Math.min(settings.batchSize, settings.maxUnavailable + surge.length));

  const steps: RolloutStep[] = [{ op: 'front-door' }];
  if (create.length > 0) steps.push({ op: 'create', slots: create });
  if (surge.length > 0) steps.push({ op: 'surge', slots: surge });
  for (let i = 0; i < outdated.length; i += batch) {
    const slice = outdated.slice(i, i + batch);
    steps.push({ op: 'drain', slots: slice }, { op: 'replace', slots: slice });
  }
  if (surge.length > 0) steps.push({ op: 'remove', slots: surge });
  if (surplus.length > 0) steps.push({ op: 'remove', slots: surplus });
  steps.push({ op: 'converge', replicas });
  return steps;
}

/** Canary instances (at least one, about `share` of the replicas) in slots above the others. */
export function planCanary(service: string, environment: string, replicas: number, slots: readonly SlotState[], share: number): RolloutStep[] {
  const count = Math.max(1, Math.round(replicas * share));
  const highest = Math.max(replicas, ...slots.map((s) => s.ordinal));
  const canaries = Array.from({ length: count }, (_, i) => slotOf(service, environment, highest + 1 + i));
  return [{ op: 'front-door' }, { op: 'canary', slots: canaries, share }];
}

/**
 * Load balancer weights so the canary servers together get `share` of the
 * requests: HAProxy weights are 1..256 per server.
 */
export function canaryWeights(main: number, canaries: number, share: number): { main: number; canary: number } {
  if (main === 0) return { main: 0, canary: 100 };
  // canary*c / (canary*c + main*m) = share, with the larger weight at 256 for resolution.
  const ratio = (share * main) / ((1 - share) * canaries);
  return ratio >= 1 ? { main: Math.max(1, Math.round(256 / ratio)), canary: 256 } : { main: 256, canary: Math.max(1, Math.round(256 * ratio)) };
}
