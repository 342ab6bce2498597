/**
 * `berth hosts` as plain data, from plain data: the hosts of berth.yaml, what
 * each engine answered (or why it did not), the operator's states, and the
 * slots Berth has placed with their services' reservations.
 */
import type { HostSpec } from '../config/model.js';
import type { Reach } from '../runtime/reach.js';
import type { HealthState } from './host-health.js';

export type HostState = 'ready' | 'draining' | 'unreachable';

export interface HostView {
  name: string;
  engine: string;
  state: HostState;
  reachable: boolean;
  /** Why the engine did not answer (only when unreachable). */
  error?: string;
  /** What the server's watcher decided (up, suspect, down, returning); null when no server watched it fail. */
  health: HealthState | null;
  /** Since when it is in that state (ms since the epoch), and why. */
  healthSince: number | null;
  healthReason?: string;
  /** The operator drained it (also when it is unreachable now): it gets nothing new. */
  draining: boolean;
  drainReason?: string;
  version: string | null;
  apiVersion: string | null;
  rttMs: number | null;
  /** What the engine reports (NCPU, MemTotal); null when it did not answer. */
  cpus: number | null;
  memory: number | null;
  /** Slots Berth placed on it (from the store), whether or not their containers run now. */
  instances: number;
  /** Sum of those slots' services' reservations (resources.cpus, resources.memory); a slot without one reserves nothing. */
  reservedCpus: number;
  reservedMemory: number;
  labels: Record<string, string>;
  /** The host's own LAN address when berth.yaml gives one. */
  address: string | null;
}

export interface HostsInput {
  hosts: readonly HostSpec[];
  reach: readonly Reach[];
  capacity: ReadonlyMap<string, { cpus: number; memoryBytes: number }>;
  draining: ReadonlyMap<string, { reason: string }>;
  /** The watcher's decisions (store/host-health.ts). */
  health?: ReadonlyMap<string, { state: HealthState; since: number; reason: string }>;
  /** Each slot placed: its host and its service. */
  slots: readonly { host: string; service: string }[];
  /** Each service's reservations as berth.yaml has them now. */
  resources: ReadonlyMap<string, { cpus?: number; memoryBytes?: number }>;
}

export function hostsView(input: HostsInput): HostView[] {
  const reach = new Map(input.reach.map((r) => [r.host, r]));
  return input.hosts.map((spec) => {
    const r = reach.get(spec.name);
    const placed = input.slots.filter((s) => s.host === spec.name);
    const reserve = (key: 'cpus' | 'memoryBytes') => placed.reduce((sum, s) => sum + (input.resources.get(s.service)?.[key] ?? 0), 0);
    const drain = input.draining.get(spec.name);
    const capacity = input.capacity.get(spec.name);
    const health = input.health?.get(spec.name);
    const reachable = r?.reachable === true;
    return {
      name: spec.name,
      engine: spec.engine,
      state: !reachable ? 'unreachable' : drain ? 'draining' : 'ready',
      reachable,
      ...(r && !r.reachable ? { error: r.error } : r ? {} : { error: 'not asked' }),
      health: health?.state ?? null,
      healthSince: health?.since ?? null,
      ...(health?.reason ? { healthReason: health.reason } : {}),
      draining: drain !== undefined,
      ...(drain?.reason ? { drainReason: drain.reason } : {}),
      version: r?.reachable ? r.version : null,
      apiVersion: r?.reachable ? r.apiVersion : null,
      rttMs: r?.reachable ? r.rttMs : null,
      cpus: capacity?.cpus ?? null,
      memory: capacity?.memoryBytes ?? null,
      instances: placed.length,
      reservedCpus: Math.round(reserve('cpus') * 1000) / 1000,
      reservedMemory: reserve('memoryBytes'),
      labels: labelsOf(spec),
      address: spec.address ?? null,
    };
  });
}

function labelsOf(spec: HostSpec): Record<string, string> {
  return { ...spec.labels };
}
