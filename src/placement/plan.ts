/**
 * Placement: which host each slot runs on. Pure: hosts (capacity, labels,
 * state), what other slots already reserve, and the slots to place in; a host
 * per slot and the reason, or problems naming what is short on which hosts,
 * out. Same input, same output.
 *
 * The rules, in order: a slot stays on its current host unless it is pinned
 * elsewhere (`berth move --to`), must leave it (drain), or that host left the
 * environment or no longer carries the slot's labels. A slot whose host is
 * unreachable stays there: it may still run (with its address), and the
 * rollout that needs the host fails naming it rather than start a second copy.
 * New and displaced slots go to a ready host of their environment that carries
 * their labels and has their CPU and memory free; of those, one holding the
 * fewest of the slot's service × environment (spread), then the least loaded,
 * then the earliest in the environment's order. Draining and unreachable hosts
 * get nothing new. A host's CPU or memory of 0 means the engine did not say,
 * and that dimension is not limited.
 */

export type HostState = 'ready' | 'draining' | 'unreachable';

export interface PlacementHost {
  name: string;
  /** CPUs the engine reports (NCPU); 0: unknown, not limited. */
  cpus: number;
  /** Memory the engine reports (MemTotal); 0: unknown, not limited. */
  memoryBytes: number;
  labels: Readonly<Record<string, string>>;
  state: HostState;
  /** Why it is unreachable, for messages. */
  reason?: string;
}

/** What a slot that is not being placed holds on a host. */
export interface Reservation {
  host: string;
  service: string;
  environment: string;
  cpus: number;
  memoryBytes: number;
}

export interface SlotRequest {
  slot: string;
  service: string;
  environment: string;
  /** The service's `resources.cpus` and `memory`; 0 when unset. */
  cpus: number;
  memoryBytes: number;
  /** The environment's hosts, in its order: ties go to the earlier one. */
  hosts: readonly string[];
  /** Labels the host must carry, each with this value. */
  labels: Readonly<Record<string, string>>;
  /** Where the slot runs now. */
  current?: string;
  /** The host it is asked to move to (`berth move --to`). */
  pin?: string;
  /** Its current host must be left (`berth host drain`). */
  leave?: boolean;
}

export interface PlacementInput {
  hosts: readonly PlacementHost[];
  reserved: readonly Reservation[];
  slots: readonly SlotRequest[];
}

/**
 * `kept`: on its current host; `new`: it had none; `pinned`: where it was asked to go;
 * `leaving`: off a host it must leave; `host-gone`: its host is no longer one of the
 * environment's; `labels-changed`: its host no longer carries the slot's labels.
 */
export type PlacementReason = 'kept' | 'new' | 'pinned' | 'leaving' | 'host-gone' | 'labels-changed' | 'outgrown';

export interface SlotPlacement {
  slot: string;
  host: string;
  reason: PlacementReason;
  /** The reason in words, e.g. "kept on h2 (unreachable: it may still run there)". */
  note: string;
}

export interface PlacementProblem {
  service: string;
  environment: string;
  /** The slots that found no host. */
  slots: string[];
  message: string;
}

export interface PlacementPlan {
  /** Every slot that found a host, in the order of the request. */
  placements: SlotPlacement[];
  /** One per service × environment (or pinned slot) that did not fit; empty when all did. */
  problems: PlacementProblem[];
}

const MILLI = 1000;
/** Hosts named in a problem before "and N more". */
const LISTED_HOSTS = 12;

export function planPlacement(input: PlacementInput): PlacementPlan {
  const fleet = new Fleet(input.hosts);
  for (const r of input.reserved) fleet.reserve(r.host, groupOf(r), milli(r.cpus), r.memoryBytes);

  const decided = new Map<number, SlotPlacement>();
  const pinned: number[] = [];
  const moving: { at: number; reason: PlacementReason; avoid?: string }[] = [];
  input.slots.forEach((s, at) => {
    const stay = stayOrGo(s, fleet);
    // A slot whose reservation grew past what its ready host has left moves (an unreachable or draining host keeps it: it may still run there).
    if (stay.reason === 'kept' && fleet.host(s.current!)!.state === 'ready' && !fleet.fitsOn(s.current!, s)) {
      moving.push({ at, reason: 'outgrown' });
    } else if (stay.reason === 'kept') {
      fleet.reserve(s.current!, groupOf(s), milli(s.cpus), s.memoryBytes);
      decided.set(at, { slot: s.slot, host: s.current!, reason: 'kept', note: stay.note });
    } else if (stay.reason === 'pinned') pinned.push(at);
    else moving.push({ at, reason: stay.reason, ...(s.leave && s.current !== undefined ? { avoid: s.current } : {}) });
  });

  const problems: PlacementProblem[] = [];
  for (const at of pinned) {
    const s = input.slots[at]!;
    const refusal = fleet.refusal(s, s.pin!);
    if (refusal) {
      problems.push({ service: s.service, environment: s.environment, slots: [s.slot], message: `cannot move ${s.slot} to ${s.pin}: ${refusal}` });
      continue;
    }
    fleet.reserve(s.pin!, groupOf(s), milli(s.cpus), s.memoryBytes);
    decided.set(at, { slot: s.slot, host: s.pin!, reason: 'pinned', note: `moved to ${s.pin} as asked` });
  }

  // The largest first: small ones fit into what is left, the other way round often not.
  const order = [...moving].sort((a, b) => {
    const x = input.slots[a.at]!;
    const y = input.slots[b.at]!;
    return milli(y.cpus) - milli(x.cpus) || y.memoryBytes - x.memoryBytes || a.at - b.at;
  });
  const unplaced = new Map<string, { request: SlotRequest; slots: string[]; avoided: Set<string> }>();
  for (const m of order) {
    const s = input.slots[m.at]!;
    const host = fleet.best(s, m.avoid);
    if (host === undefined) {
      const key = groupOf(s);
      const entry = unplaced.get(key) ?? { request: s, slots: [], avoided: new Set<string>() };
      entry.slots.push(s.slot);
      if (m.avoid !== undefined) entry.avoided.add(m.avoid);
      unplaced.set(key, entry);
      continue;
    }
    fleet.reserve(host, groupOf(s), milli(s.cpus), s.memoryBytes);
    decided.set(m.at, { slot: s.slot, host, reason: m.reason, note: noteOf(m.reason, s, host) });
  }
  for (const u of unplaced.values()) {
    const slots = input.slots.map((s) => s.slot).filter((slot) => u.slots.includes(slot));
    problems.push({ service: u.request.service, environment: u.request.environment, slots, message: fleet.shortage(u.request, slots.length, u.avoided) });
  }
  const placements = [...decided.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
  return { placements, problems };
}

/** Whether a slot stays where it runs, and if not, why it moves. */
function stayOrGo(s: SlotRequest, fleet: Fleet): { reason: PlacementReason; note: string } {
  if (s.pin !== undefined) return { reason: 'pinned', note: '' };
  if (s.current === undefined) return { reason: 'new', note: '' };
  if (s.leave) return { reason: 'leaving', note: '' };
  const host = fleet.host(s.current);
  if (host === undefined || !fleet.isCandidate(s, s.current)) return { reason: 'host-gone', note: '' };
  if (!carries(host, s.labels)) return { reason: 'labels-changed', note: '' };
  const why = host.state === 'unreachable' ? ' (unreachable: it may still run there)' : host.state === 'draining' ? ' (draining: it stays until it is moved)' : '';
  return { reason: 'kept', note: `kept on ${s.current}${why}` };
}

function noteOf(reason: PlacementReason, s: SlotRequest, host: string): string {
  switch (reason) {
    case 'leaving':
      return `moved off ${s.current} to ${host}`;
    case 'host-gone':
      return `moved to ${host}: ${s.current} is no longer a host of ${s.environment}`;
    case 'labels-changed':
      return `moved to ${host}: ${s.current} does not carry ${labelText(s.labels)}`;
    case 'outgrown':
      return `moved to ${host}: ${s.current} has no room left for its ${need(s)}`;
    default:
      return `placed on ${host}`;
  }
}

/** The hosts with what is reserved on each, by index. */
class Fleet {
  readonly #hosts: readonly PlacementHost[];
  readonly #index = new Map<string, number>();
  readonly #capCpu: Float64Array;
  readonly #capMem: Float64Array;
  readonly #usedCpu: Float64Array;
  readonly #usedMem: Float64Array;
  readonly #count: Float64Array;
  readonly #groups = new Map<string, Float64Array>();
  readonly #eligible = new WeakMap<readonly string[], Map<string, number[]>>();
  readonly #names = new WeakMap<readonly string[], Set<string>>();

  constructor(hosts: readonly PlacementHost[]) {
    this.#hosts = hosts;
    hosts.forEach((h, i) => this.#index.set(h.name, i));
    const n = hosts.length;
    this.#capCpu = Float64Array.from(hosts, (h) => milli(h.cpus));
    this.#capMem = Float64Array.from(hosts, (h) => h.memoryBytes);
    this.#usedCpu = new Float64Array(n);
    this.#usedMem = new Float64Array(n);
    this.#count = new Float64Array(n);
  }

  host(name: string): PlacementHost | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.#hosts[i];
  }

  reserve(name: string, group: string, cpu: number, mem: number): void {
    const i = this.#index.get(name);
    if (i === undefined) return;
    this.#usedCpu[i]! += cpu;
    this.#usedMem[i]! += mem;
    this.#count[i]! += 1;
    this.#groupCounts(group)[i]! += 1;
  }

  /** The best host for the slot, or undefined when none is ready, carries its labels and has room. */
  best(s: SlotRequest, avoid: string | undefined): string | undefined {
    const cpu = milli(s.cpus);
    const mem = s.memoryBytes;
    const same = this.#groupCounts(groupOf(s));
    const avoided = avoid === undefined ? -1 : (this.#index.get(avoid) ?? -1);
    let best = -1;
    let bestSame = 0;
    let bestLoad = 0;
    let bestCount = 0;
    for (const i of this.#candidates(s)) {
      if (i === avoided || this.#hosts[i]!.state !== 'ready' || !this.#fits(i, cpu, mem)) continue;
      const sameHere = same[i]!;
      if (best >= 0 && sameHere > bestSame) continue;
      const load = this.#load(i);
      const count = this.#count[i]!;
      if (best < 0 || sameHere < bestSame || load < bestLoad || (load === bestLoad && count < bestCount)) {
        best = i;
        bestSame = sameHere;
        bestLoad = load;
        bestCount = count;
        // Nothing beats an empty host holding none of the service, and ties go to the earlier one.
        if (bestSame === 0 && bestLoad === 0 && bestCount === 0) break;
      }
    }
    return best < 0 ? undefined : this.#hosts[best]!.name;
  }

  /** Whether the slot's reservation fits on `name` beside what is reserved there so far. */
  fitsOn(name: string, s: SlotRequest): boolean {
    const i = this.#index.get(name);
    return i !== undefined && this.#fits(i, milli(s.cpus), s.memoryBytes);
  }

  /** Whether `name` is one of the slot's environment's hosts. */
  isCandidate(s: SlotRequest, name: string): boolean {
    let names = this.#names.get(s.hosts);
    if (!names) this.#names.set(s.hosts, (names = new Set(s.hosts)));
    return names.has(name);
  }

  /** Why the slot cannot go to `name`, or undefined when it can. */
  refusal(s: SlotRequest, name: string): string | undefined {
    const i = this.#index.get(name);
    if (i === undefined || !this.isCandidate(s, name)) return `${name} is not a host of ${s.environment} (its hosts: ${s.hosts.join(', ')})`;
    const h = this.#hosts[i]!;
    if (h.state !== 'ready') return `${name} is ${stateText(h)}`;
    if (!carries(h, s.labels)) return `${name} does not carry ${labelText(s.labels)} (${hostLabels(h, s.labels)})`;
    if (!this.#fits(i, milli(s.cpus), s.memoryBytes)) return `it needs ${need(s)} free and ${name} has ${this.#free(i, s)}`;
    return undefined;
  }

  /** What is short for `n` slots of the request, on which hosts. */
  shortage(s: SlotRequest, n: number, avoided: ReadonlySet<string>): string {
    const who = `service ${s.service} in ${s.environment}`;
    const constrained = Object.keys(s.labels).length > 0;
    const own = s.hosts.filter((name) => this.#index.has(name));
    const matching = own.filter((name) => carries(this.host(name)!, s.labels));
    if (constrained && matching.length === 0) {
      return `${who} needs a host with ${labelText(s.labels)} for ${n} instance(s); no host of ${s.environment} carries it: ${listed(own.map((name) => `${name} (${hostLabels(this.host(name)!, s.labels)})`))}`;
    }
    const on = constrained ? ` on hosts with ${labelText(s.labels)}` : '';
    const whose = constrained ? `${labelText(s.labels)} hosts` : `hosts of ${s.environment}`;
    const described = matching.map((name) => {
      const i = this.#index.get(name)!;
      const h = this.#hosts[i]!;
      if (h.state !== 'ready') return `${name} (${stateText(h)})`;
      if (avoided.has(name)) return `${name} (being left)`;
      return need(s) ? `${name} (${this.#free(i, s)} free)` : name;
    });
    const wanted = need(s) ? `room for ${n} more instance(s) with ${need(s)} free${n > 1 ? ' each' : ''}${on}` : `a ready host${on} for ${n} more instance(s)`;
    return `${who} needs ${wanted}; ${whose}: ${listed(described)}`;
  }

  #candidates(s: SlotRequest): number[] {
    let byLabels = this.#eligible.get(s.hosts);
    if (!byLabels) this.#eligible.set(s.hosts, (byLabels = new Map()));
    const key = labelText(s.labels);
    let list = byLabels.get(key);
    if (!list) {
      list = s.hosts.map((name) => this.#index.get(name)).filter((i): i is number => i !== undefined && carries(this.#hosts[i]!, s.labels));
      byLabels.set(key, list);
    }
    return list;
  }

  #groupCounts(group: string): Float64Array {
    let counts = this.#groups.get(group);
    if (!counts) this.#groups.set(group, (counts = new Float64Array(this.#hosts.length)));
    return counts;
  }

  #fits(i: number, cpu: number, mem: number): boolean {
    const capCpu = this.#capCpu[i]!;
    const capMem = this.#capMem[i]!;
    return (capCpu === 0 || cpu === 0 || this.#usedCpu[i]! + cpu <= capCpu) && (capMem === 0 || mem === 0 || this.#usedMem[i]! + mem <= capMem);
  }

  /** The larger of the reserved shares of CPU and memory. */
  #load(i: number): number {
    const capCpu = this.#capCpu[i]!;
    const capMem = this.#capMem[i]!;
    return Math.max(capCpu > 0 ? this.#usedCpu[i]! / capCpu : 0, capMem > 0 ? this.#usedMem[i]! / capMem : 0);
  }

  /** "0.2 CPU, 128 MiB": what is free of what the slot asks for. */
  #free(i: number, s: SlotRequest): string {
    const parts: string[] = [];
    if (s.cpus > 0) parts.push(this.#capCpu[i] === 0 ? 'CPU unknown' : `${cpuText(Math.max(0, this.#capCpu[i]! - this.#usedCpu[i]!))} CPU`);
    if (s.memoryBytes > 0) parts.push(this.#capMem[i] === 0 ? 'memory unknown' : bytesText(Math.max(0, this.#capMem[i]! - this.#usedMem[i]!)));
    return parts.join(', ');
  }
}

function groupOf(s: { service: string; environment: string }): string {
  return `${s.service}\u0000${s.environment}`;
}

function carries(host: PlacementHost, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(labels)) if (host.labels[key] !== value) return false;
  return true;
}

/** CPUs in thousandths, so sums are exact. */
function milli(cpus: number): number {
  return Math.round(cpus * MILLI);
}

function need(s: SlotRequest): string {
  return [...(s.cpus > 0 ? [`${cpuText(milli(s.cpus))} CPU`] : []), ...(s.memoryBytes > 0 ? [bytesText(s.memoryBytes)] : [])].join(' and ');
}

function stateText(h: PlacementHost): string {
  return h.state === 'unreachable' ? `unreachable${h.reason ? `: ${h.reason}` : ''}` : h.state;
}

/** "rack=r1, zone=a", keys sorted. */
export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(', ');
}

/** What the host has of the asked labels' keys: "rack=r2" or "no rack". */
function hostLabels(h: PlacementHost, asked: Readonly<Record<string, string>>): string {
  return Object.keys(asked)
    .sort()
    .map((k) => (h.labels[k] === undefined ? `no ${k}` : `${k}=${h.labels[k]}`))
    .join(', ');
}

function listed(items: string[]): string {
  if (items.length === 0) return 'none';
  const shown = items.slice(0, LISTED_HOSTS).join(', ');
  return items.length > LISTED_HOSTS ? `${shown} and ${items.length - LISTED_HOSTS} more` : shown;
}

function cpuText(millicpus: number): string {
  return String(Math.round(millicpus) / MILLI);
}

function bytesText(bytes: number): string {
  const gib = 1024 ** 3;
  const mib = 1024 ** 2;
  if (bytes >= gib) return `${Number((bytes / gib).toFixed(1))} GiB`;
  return `${Math.round(bytes / mib)} MiB`;
}
