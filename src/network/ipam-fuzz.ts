/**
 * Test support for the IPAM property test: a seeded PRNG, a driver that plays
 * deploy executors for a set of slots (crashing some between "allocated" and
 * "container created"), and a reference model that replays everything the
 * drivers saw in commit order and says where the real IPAM disagreed.
 */
import { BerthError } from '../errors.js';
import { intToIp, ipToInt, macFor } from './addresses.js';
import type { Ipam, Pool } from './ipam.js';
import { prng } from '../testing/prng.js';

export { prng };


/** A clock shared by every thread: each reading is a unique tick, so ticks taken inside transactions order them as SQLite committed them. */
export function sharedClock(buffer: SharedArrayBuffer): () => number {
  const ticks = new Int32Array(buffer);
  return () => Atomics.add(ticks, 0, 1) + 1;
}

export type FuzzEvent =
  | { kind: 'acquire'; tick: number; slot: string; preferred?: string; ip: string; mac: string; incarnation: number }
  | { kind: 'reject'; tick: number; slot: string; preferred?: string; error: string; message: string }
  | { kind: 'release'; tick: number; slot: string; ip: string }
  | { kind: 'reconcile'; tick: number; released: string[] };

/**
 * The share of deploys that ask for a given address. Most such requests are refused (the address is
 * held or quarantined); this share makes even a short run grant some of them ("acquire (preferred)").
 */
const PREFERRING = 0.25;

/** What the driver believes about a slot's container. */
type SlotState = 'none' | 'crashed' | 'live' | 'vanished';

export class Driver {
  readonly events: FuzzEvent[] = [];
  /** IPAM calls made: requests, binds and releases. */
  calls = 0;
  readonly #slots: Map<string, SlotState>;
  #containers = 0;

  constructor(
    readonly name: string,
    readonly ipam: Ipam,
    readonly pool: Pool,
    readonly random: () => number,
    slots: string[],
    /** The tick of the last clock reading, -1 before the next operation reads it. */
    readonly lastTick: { value: number },
  ) {
    this.#slots = new Map(slots.map((s) => [s, 'none']));
  }

  /** Slots whose container exists: what a reconciler would find on the hosts. */
  live(): string[] {
    return [...this.#slots].filter(([, s]) => s === 'live').map(([slot]) => slot);
  }

  /** After a reconcile, crashed and vanished slots have no address in use any more. */
  reconciled(): void {
    for (const [slot, state] of this.#slots) if (state !== 'live') this.#slots.set(slot, 'none');
  }

  async step(): Promise<void> {
    const slots = [...this.#slots.keys()];
    const slot = slots[Math.floor(this.random() * slots.length)]!;
    const state = this.#slots.get(slot)!;
    const roll = this.random();
    if (state === 'live' && roll < 0.12) this.#slots.set(slot, 'vanished');
    else if (roll < (state === 'none' ? 0.08 : 0.4)) await this.#release(slot);
    else await this.#deploy(slot, this.random() < PREFERRING ? this.#someAddress() : undefined);
  }

  async #deploy(slot: string, preferred?: string): Promise<void> {
    this.lastTick.value = -1;
    let a;
    try {
      this.calls++;
      a = await this.ipam.requestAddress(this.pool.network, slot, preferred);
      this.events.push({ kind: 'acquire', tick: this.lastTick.value, slot, ...(preferred ? { preferred } : {}), ip: a.ip, mac: a.mac, incarnation: a.incarnation });
    } catch (error) {
      if (!(error instanceof BerthError)) throw error;
      this.events.push({ kind: 'reject', tick: this.lastTick.value, slot, ...(preferred ? { preferred } : {}), error: error.kind, message: error.message });
      return;
    }
    // A crash here leaves the allocation without a container until a retry or a reconcile.
    if (this.random() < 0.15) return void this.#slots.set(slot, 'crashed');
    this.calls++;
    await this.ipam.bind(this.pool.network, slot, `${this.name}-c${++this.#containers}`, a.incarnation);
    this.#slots.set(slot, 'live');
  }

  async #release(slot: string): Promise<void> {
    this.lastTick.value = -1;
    this.calls++;
    const released = await this.ipam.releaseAddress(this.pool.network, slot);
    if (released) this.events.push({ kind: 'release', tick: this.lastTick.value, slot, ip: released.ip });
    this.#slots.set(slot, 'none');
  }

  /** Mostly in the range, sometimes just outside it or reserved, to exercise every refusal. */
  #someAddress(): string {
    const [first, last] = [ipToInt(this.pool.first), ipToInt(this.pool.last)];
    return intToIp(first - 1 + Math.floor(this.random() * (last - first + 3)));
  }
}

interface ModelRow {
  slot: string | null;
  active: boolean;
  releasedAt: number;
  incarnation: number;
}

type Outcome = { ip: string; incarnation: number } | { error: string };

/** The specification, executed: replays events in tick order and collects every disagreement. */
export class Model {
  readonly rows = new Map<string, ModelRow>();
  readonly violations: string[] = [];
  readonly counts: Record<string, number> = {};
  readonly #first: number;
  readonly #last: number;
  readonly #reserved: Set<string>;

  constructor(readonly pool: Pool) {
    [this.#first, this.#last] = [ipToInt(pool.first), ipToInt(pool.last)];
    this.#reserved = new Set(pool.reserved);
  }

  replay(events: FuzzEvent[]): void {
    for (const e of [...events].sort((a, b) => a.tick - b.tick)) this.#apply(e);
  }

  #apply(e: FuzzEvent): void {
    if (e.kind === 'release' || e.kind === 'reconcile') {
      for (const ip of e.kind === 'release' ? [e.ip] : e.released) {
        const row = this.rows.get(ip);
        if (!row?.active || (e.kind === 'release' && row.slot !== e.slot)) this.#violate(e, `released ${ip}, which it did not hold`);
        else Object.assign(row, { active: false, releasedAt: e.tick });
      }
      return this.#count(e.kind === 'release' ? 'release' : 'released by reconcile', e.kind === 'release' ? 1 : e.released.length);
    }
    if (e.kind === 'acquire') this.#checkOwnership(e);
    const { why, ...expected } = this.#request(e.slot, e.preferred, e.tick);
    const actual: Outcome = e.kind === 'acquire' ? { ip: e.ip, incarnation: e.incarnation } : { error: e.error };
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      return this.#violate(e, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}${e.kind === 'reject' ? ` (${e.message})` : ''}`);
    }
    if (e.kind === 'acquire' && e.mac !== macFor(e.ip, this.pool.macPrefix)) this.#violate(e, `MAC ${e.mac} does not match ${e.ip}`);
    this.#count(`${e.kind} ${'error' in expected ? expected.error : ''} (${why})`.replace('  ', ' '));
    if (!('error' in expected)) this.#take(e.slot, expected.ip, expected.incarnation);
  }

  /** The two properties that matter most, named plainly before the model's exact comparison. */
  #checkOwnership(e: Extract<FuzzEvent, { kind: 'acquire' }>): void {
    const held = this.rows.get(e.ip);
    if (held?.active && held.slot !== e.slot) this.#violate(e, `two owners: ${e.ip} is still held by ${held.slot}`);
    if (held && !held.active && held.slot !== e.slot && !this.#free(held, e.tick)) {
      this.#violate(e, `quarantine breached: ${e.ip} was released by ${held.slot ?? 'another slot'} at tick ${held.releasedAt}`);
    }
  }

  /** What requestAddress must do, per its contract. */
  #request(slot: string, preferred: string | undefined, tick: number): Outcome & { why: string } {
    if (preferred !== undefined && !this.#allocatable(ipToInt(preferred))) return { error: 'invalid', why: 'outside the pool or reserved' };
    const own = this.#own(slot);
    if (own && (preferred === undefined || preferred === own[0])) return { ip: own[0], incarnation: own[1].incarnation + 1, why: 'reuse' };
    if (own?.[1].active) return { error: 'conflict', why: 'slot holds another address' };
    const next = (own?.[1].incarnation ?? 0) + 1;
    if (preferred !== undefined) {
      const row = this.rows.get(preferred);
      if (row?.active) return { error: 'conflict', why: 'owned by another slot' };
      if (row && !this.#free(row, tick)) return { error: 'unavailable', why: 'quarantined' };
      return { ip: preferred, incarnation: next, why: 'preferred' };
    }
    for (let n = this.#first; n <= this.#last; n++) {
      const ip = intToIp(n);
      const row = this.rows.get(ip);
      if (this.#allocatable(n) && (!row || this.#free(row, tick))) return { ip, incarnation: next, why: row ? 'lowest, after quarantine' : 'lowest, never used' };
    }
    const waiting = [...this.rows.values()].some((r) => !r.active && !this.#free(r, tick));
    return { error: waiting ? 'unavailable' : 'conflict', why: 'exhausted' };
  }

  #take(slot: string, ip: string, incarnation: number): void {
    const own = this.#own(slot);
    if (own && own[0] !== ip) own[1].slot = null;
    this.rows.set(ip, { slot, active: true, releasedAt: -1, incarnation });
  }

  #own(slot: string): [string, ModelRow] | undefined {
    return [...this.rows].find(([, r]) => r.slot === slot);
  }

  #free(row: ModelRow, tick: number): boolean {
    return !row.active && row.releasedAt + this.pool.quarantineMs <= tick;
  }

  #allocatable(n: number): boolean {
    return n >= this.#first && n <= this.#last && !this.#reserved.has(intToIp(n));
  }

  #count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  #violate(e: FuzzEvent, message: string): void {
    this.violations.push(`tick ${e.tick}, ${e.kind}${'slot' in e ? ` by ${e.slot}` : ''}${'preferred' in e && e.preferred ? ` preferring ${e.preferred}` : ''}: ${message}`);
  }
}
