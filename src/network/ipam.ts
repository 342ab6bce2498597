/**
 * IPAM for flat networks, in Moby's vocabulary: pools, request and release an
 * address. Every change runs in one BEGIN IMMEDIATE transaction, so several
 * processes sharing the store serialize on SQLite's write lock; the table's keys
 * (network, ip) and (network, slot) make a second owner impossible even then.
 */
import { conflict, notFound, unavailable } from '../errors.js';
import type { Db } from '../store/db.js';
import { compareIps, intToIp, ipToInt, macFor } from './addresses.js';
import { checkPreferred, exhausted, ownedElsewhere, quarantinedElsewhere, type CompiledPool } from './ipam-errors.js';
import { allocatableCount, type Pool } from './pool.js';

export { macFor } from './addresses.js';
export { poolFromNetwork, type Pool } from './pool.js';

export interface Owner {
  slot: string;
  incarnation: number;
}

export type AllocationState = 'allocated' | 'bound' | 'quarantined';

export interface Allocation {
  network: string;
  ip: string;
  mac: string;
  /** null: quarantined, and its last slot has taken another address since. */
  slot: string | null;
  /** Counts the slot's requests for this address; each new container is a new incarnation. */
  incarnation: number;
  state: AllocationState;
  /** Set exactly when the state is 'bound'. */
  containerId: string | null;
  allocatedAt: number;
  releasedAt: number | null;
}

export interface Usage {
  /** Allocatable addresses: the range minus the reserved ones. */
  size: number;
  allocated: number;
  bound: number;
  /** Still waiting out their quarantine; once it is over they count as free. */
  quarantined: number;
  free: number;
}

interface Row {
  network: string;
  ip: string;
  mac: string;
  slot: string | null;
  incarnation: number;
  state: AllocationState;
  container_id: string | null;
  allocated_at: number;
  released_at: number | null;
}

const toAllocation = (r: Row): Allocation => ({
  network: r.network,
  ip: r.ip,
  mac: r.mac,
  slot: r.slot,
  incarnation: r.incarnation,
  state: r.state,
  containerId: r.container_id,
  allocatedAt: r.allocated_at,
  releasedAt: r.released_at,
});

const byAddress = (a: Row, b: Row) => a.network.localeCompare(b.network) || compareIps(a.ip, b.ip);

export class Ipam {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #pools = new Map<string, CompiledPool>();

  /** `now` is read once per change, inside its transaction. */
  constructor(db: Db, pools: Pool[], now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    for (const pool of pools) {
      const [first, last] = [ipToInt(pool.first), ipToInt(pool.last)];
      const reserved = new Set(pool.reserved.map(ipToInt));
      const size = allocatableCount(first, last, [...reserved]);
      this.#pools.set(pool.network, { pool, first, last, reserved, size });
    }
  }

  get pools(): Pool[] {
    return [...this.#pools.values()].map((p) => p.pool);
  }

  /**
   * The slot's own address if it has one (in any state, its quarantined one
   * included, with the next incarnation), else `preferred`, else the lowest free
   * address; written durably before it returns.
   */
  requestAddress(network: string, slot: string, preferred?: string): Allocation {
    const pool = this.#pool(network);
    const want = preferred === undefined ? undefined : checkPreferred(pool, preferred);
    return this.#immediate(() => {
      const now = this.#now();
      const own = this.#bySlot(network, slot);
      if (own && isAllocatable(pool, own.ip)) {
        if (want === undefined || want === own.ip) return this.#reuse(own, now);
        if (own.state !== 'quarantined') {
          throw conflict(`slot ${slot} already owns ${own.ip} in pool "${network}" (${own.state}), so it cannot take ${want} as well`, {
            fix: `release the slot's address first, or request ${own.ip}`,
          });
        }
      }
      if (own) this.#letGo(pool, own);
      const ip = want === undefined ? this.#lowestFree(pool, now) : this.#checkFree(pool, want, now);
      return this.#claim(pool, ip, slot, (own?.incarnation ?? 0) + 1, now);
    });
  }

  /** Marks the slot's allocation bound to its created container; with `incarnation`, only if no later request took it over. */
  bind(network: string, slot: string, containerId: string, incarnation?: number): void {
    this.#pool(network);
    this.#immediate(() => {
      const own = this.#bySlot(network, slot);
      if (!own) throw notFound(`slot ${slot} has no address in pool "${network}"`, { fix: 'request an address before creating the container' });
      if (own.state === 'quarantined') {
        throw conflict(`the address ${own.ip} of slot ${slot} was released before container ${containerId} was bound to it`, { fix: 'request the address again, then bind' });
      }
      if (incarnation !== undefined && incarnation !== own.incarnation) {
        throw conflict(`slot ${slot} holds ${own.ip} at incarnation ${own.incarnation}, not ${incarnation}: a later request took it over`, { fix: 'remove the older container; the newer deploy owns the address' });
      }
      if (own.state === 'bound' && own.container_id !== containerId) {
        throw conflict(`${own.ip} of slot ${slot} is already bound to container ${own.container_id}`, { fix: 'request the address again for a new container' });
      }
      this.#run("UPDATE ipam_allocations SET state = 'bound', container_id = ? WHERE network = ? AND ip = ?", containerId, network, own.ip);
    });
  }

  /** Releases the slot's address into quarantine; returns it, or undefined when the slot held none. */
  releaseAddress(network: string, slot: string): Allocation | undefined {
    this.#pool(network);
    return this.#immediate(() => {
      const now = this.#now();
      const own = this.#bySlot(network, slot);
      if (!own || own.state === 'quarantined') return undefined;
      this.#quarantine(own, now);
      return toAllocation(this.#bySlot(network, slot)!);
    });
  }

  /**
   * Given the slots that really have a container, moves every other slot's
   * address into quarantine: 'allocated' ones (a crash before the container was
   * created; only those older than `graceMs`, so a deploy in flight keeps its
   * address) and bound ones whose container is gone (`dropped`).
   */
  reconcile(network: string, liveSlots: ReadonlySet<string>, options: { graceMs?: number } = {}): { released: string[]; dropped: string[] } {
    this.#pool(network);
    return this.#immediate(() => {
      const now = this.#now();
      const stale = this.#rows(network).filter(
        (r) => r.state !== 'quarantined' && !liveSlots.has(r.slot!) && (r.state === 'bound' || r.allocated_at <= now - (options.graceMs ?? 0)),
      );
      for (const row of stale) this.#quarantine(row, now);
      return { released: stale.map((r) => r.ip), dropped: stale.filter((r) => r.state === 'bound').map((r) => r.ip) };
    });
  }

  /** Every allocation, quarantined ones included, by network and address. */
  allocations(network?: string): Allocation[] {
    const rows = network === undefined ? (this.#db.prepare('SELECT * FROM ipam_allocations').all() as Row[]) : this.#rows(network);
    return rows.sort(byAddress).map(toAllocation);
  }

  usage(network: string): Usage {
    const pool = this.#pool(network);
    const now = this.#now();
    const rows = this.#rows(network).filter((r) => isAllocatable(pool, r.ip));
    const count = (test: (r: Row) => boolean) => rows.filter(test).length;
    const allocated = count((r) => r.state === 'allocated');
    const bound = count((r) => r.state === 'bound');
    const quarantined = count((r) => r.state === 'quarantined' && !isFree(pool, r, now));
    return { size: pool.size, allocated, bound, quarantined, free: pool.size - allocated - bound - quarantined };
  }

  /** When a quarantined allocation may go to another slot; null when it is not quarantined or its network has no pool. */
  quarantineEndsAt(allocation: Allocation): number | null {
    const pool = this.#pools.get(allocation.network);
    return allocation.releasedAt === null || !pool ? null : allocation.releasedAt + pool.pool.quarantineMs;
  }

  #pool(network: string): CompiledPool {
    const pool = this.#pools.get(network);
    if (pool) return pool;
    const names = [...this.#pools.keys()];
    throw notFound(`no address pool for network "${network}"`, {
      fix: names.length > 0 ? `use a flat network with a pool: ${names.join(', ')}` : 'declare a flat network under "networks:" in berth.yaml',
    });
  }

  #lowestFree(pool: CompiledPool, now: number): string {
    const rows = this.#rows(pool.pool.network);
    const taken = new Set(rows.filter((r) => !isFree(pool, r, now)).map((r) => ipToInt(r.ip)));
    for (let ip = pool.first; ip <= pool.last; ip++) {
      if (!pool.reserved.has(ip) && !taken.has(ip)) return intToIp(ip);
    }
    throw exhausted(pool, rows.filter((r) => isAllocatable(pool, r.ip) && !isFree(pool, r, now)).map(toAllocation), now);
  }

  #checkFree(pool: CompiledPool, ip: string, now: number): string {
    const row = this.#db.prepare('SELECT * FROM ipam_allocations WHERE network = ? AND ip = ?').get(pool.pool.network, ip) as Row | undefined;
    if (row && row.state !== 'quarantined') throw ownedElsewhere(pool, toAllocation(row));
    if (row && !isFree(pool, row, now)) throw quarantinedElsewhere(pool, toAllocation(row), now);
    return ip;
  }

  /** Takes a never-used address, or one whose quarantine is over: the WHERE refuses any other, whatever the caller believed. */
  #claim(pool: CompiledPool, ip: string, slot: string, incarnation: number, now: number): Allocation {
    const { network, macPrefix, quarantineMs } = pool.pool;
    const { changes } = this.#run(
      `INSERT INTO ipam_allocations (network, ip, mac, slot, incarnation, state, container_id, allocated_at, released_at)
       VALUES (?, ?, ?, ?, ?, 'allocated', NULL, ?, NULL)
       ON CONFLICT (network, ip) DO UPDATE SET mac = excluded.mac, slot = excluded.slot, incarnation = excluded.incarnation,
         state = 'allocated', container_id = NULL, allocated_at = excluded.allocated_at, released_at = NULL
       WHERE ipam_allocations.state = 'quarantined' AND ipam_allocations.released_at <= ?`,
      network, ip, macFor(ip, macPrefix), slot, incarnation, now, now - quarantineMs,
    );
    if (changes !== 1) throw conflict(`${ip} in pool "${network}" was taken while slot ${slot} claimed it`, { fix: 'try again' });
    return toAllocation(this.#bySlot(network, slot)!);
  }

  #reuse(own: Row, now: number): Allocation {
    this.#run(
      "UPDATE ipam_allocations SET incarnation = incarnation + 1, state = 'allocated', container_id = NULL, allocated_at = ?, released_at = NULL WHERE network = ? AND ip = ?",
      now, own.network, own.ip,
    );
    return toAllocation(this.#bySlot(own.network, own.slot!)!);
  }

  /** A quarantined address finishes its quarantine without an owner to claim it back; one outside the pool now is forgotten. */
  #letGo(pool: CompiledPool, own: Row): void {
    const sql = isAllocatable(pool, own.ip) ? 'UPDATE ipam_allocations SET slot = NULL WHERE network = ? AND ip = ?' : 'DELETE FROM ipam_allocations WHERE network = ? AND ip = ?';
    this.#run(sql, own.network, own.ip);
  }

  #quarantine(row: Row, now: number): void {
    this.#run("UPDATE ipam_allocations SET state = 'quarantined', container_id = NULL, released_at = ? WHERE network = ? AND ip = ?", now, row.network, row.ip);
  }

  #bySlot(network: string, slot: string): Row | undefined {
    return this.#db.prepare('SELECT * FROM ipam_allocations WHERE network = ? AND slot = ?').get(network, slot) as Row | undefined;
  }

  #rows(network: string): Row[] {
    return this.#db.prepare('SELECT * FROM ipam_allocations WHERE network = ?').all(network) as Row[];
  }

  #run(sql: string, ...params: unknown[]) {
    return this.#db.prepare(sql).run(...params);
  }

  /** BEGIN IMMEDIATE takes the write lock before the first read, so no other process can change what this one read. */
  #immediate<T>(body: () => T): T {
    try {
      return this.#db.transaction(body).immediate();
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      throw unavailable("Berth's store is busy: another berth process held its write lock past the busy timeout", { fix: 'try again', cause: error });
    }
  }
}

function isAllocatable(pool: CompiledPool, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= pool.first && n <= pool.last && !pool.reserved.has(n);
}

function isFree(pool: CompiledPool, row: Row, now: number): boolean {
  return row.state === 'quarantined' && row.released_at! + pool.pool.quarantineMs <= now;
}
