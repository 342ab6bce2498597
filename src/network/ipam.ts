/**
 * IPAM for flat networks, in Moby's vocabulary: pools, request and release an
 * address. Every change runs in one BEGIN IMMEDIATE transaction, so several
 * processes sharing the store serialize on SQLite's write lock; the table's keys
 * (network, ip) and (network, slot) make a second owner impossible even then.
 */
import { conflict, notFound, unavailable } from '../errors.js';
import { inTransaction, type Store } from '../store/db.js';
import { requireLeaderEpoch, type LeaderFence } from '../store/leases.js';
import {
  bindIpamAllocation,
  claimIpamAddress,
  deleteIpamAllocation,
  disownIpamAllocation,
  ipamAllocationAt,
  ipamAllocationOfSlot,
  ipamAllocations,
  quarantineIpamAllocation,
  renewIpamAllocation,
  type Allocation,
} from '../store/ipam.js';
import { compareIps, intToIp, ipToInt, macFor } from './addresses.js';
import { checkPreferred, exhausted, ownedElsewhere, quarantinedElsewhere, type CompiledPool } from './ipam-errors.js';
import { allocatableCount, type Pool } from './pool.js';

export { macFor } from './addresses.js';
export { poolFromNetwork, type Pool } from './pool.js';
export type { Allocation, AllocationState } from '../store/ipam.js';

export interface Owner {
  slot: string;
  incarnation: number;
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

const byAddress = (a: Allocation, b: Allocation) => a.network.localeCompare(b.network) || compareIps(a.ip, b.ip);

export class Ipam {
  readonly #db: Store;
  readonly #now: () => number;
  readonly #leader: LeaderFence | undefined;
  readonly #pools = new Map<string, CompiledPool>();

  /**
   * `now` is read once per change, inside its transaction. `leader`: in a server sharing its store,
   * the leadership its changes are made under; each change checks it in its own transaction and is
   * refused (`LostLeadership`) once this server stopped acting or a newer leader epoch exists.
   */
  constructor(db: Store, pools: Pool[], now: () => number = Date.now, leader?: LeaderFence) {
    this.#db = db;
    this.#now = now;
    this.#leader = leader;
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
   * address; written durably before it resolves.
   */
  async requestAddress(network: string, slot: string, preferred?: string): Promise<Allocation> {
    const pool = this.#pool(network);
    const want = preferred === undefined ? undefined : checkPreferred(pool, preferred);
    return this.#change(network, async (tx) => {
      const now = this.#now();
      const own = await ipamAllocationOfSlot(tx, network, slot);
      if (own && isAllocatable(pool, own.ip)) {
        if (want === undefined || want === own.ip) return renewIpamAllocation(tx, network, own.ip, now);
        if (own.state !== 'quarantined') {
          throw conflict(`slot ${slot} already owns ${own.ip} in pool "${network}" (${own.state}), so it cannot take ${want} as well`, {
            fix: `release the slot's address first, or request ${own.ip}`,
          });
        }
      }
      if (own) await letGo(tx, pool, own);
      const ip = want === undefined ? await lowestFree(tx, pool, now) : await checkFree(tx, pool, want, now);
      return claim(tx, pool, ip, slot, (own?.incarnation ?? 0) + 1, now);
    });
  }

  /** Marks the slot's allocation bound to its created container; with `incarnation`, only if no later request took it over. */
  async bind(network: string, slot: string, containerId: string, incarnation?: number): Promise<void> {
    this.#pool(network);
    await this.#change(network, async (tx) => {
      const own = await ipamAllocationOfSlot(tx, network, slot);
      if (!own) throw notFound(`slot ${slot} has no address in pool "${network}"`, { fix: 'request an address before creating the container' });
      if (own.state === 'quarantined') {
        throw conflict(`the address ${own.ip} of slot ${slot} was released before container ${containerId} was bound to it`, { fix: 'request the address again, then bind' });
      }
      if (incarnation !== undefined && incarnation !== own.incarnation) {
        throw conflict(`slot ${slot} holds ${own.ip} at incarnation ${own.incarnation}, not ${incarnation}: a later request took it over`, { fix: 'remove the older container; the newer deploy owns the address' });
      }
      if (own.state === 'bound' && own.containerId !== containerId) {
        throw conflict(`${own.ip} of slot ${slot} is already bound to container ${own.containerId}`, { fix: 'request the address again for a new container' });
      }
      await bindIpamAllocation(tx, network, own.ip, containerId);
    });
  }

  /** Releases the slot's address into quarantine; resolves to it, or undefined when the slot held none. */
  async releaseAddress(network: string, slot: string): Promise<Allocation | undefined> {
    this.#pool(network);
    return this.#change(network, async (tx) => {
      const now = this.#now();
      const own = await ipamAllocationOfSlot(tx, network, slot);
      if (!own || own.state === 'quarantined') return undefined;
      return quarantineIpamAllocation(tx, network, own.ip, now);
    });
  }

  /**
   * Given the slots that really have a container, moves every other slot's
   * address into quarantine: 'allocated' ones (a crash before the container was
   * created; only those older than `graceMs`, so a deploy in flight keeps its
   * address) and bound ones whose container is gone (`dropped`).
   */
  async reconcile(network: string, liveSlots: ReadonlySet<string>, options: { graceMs?: number } = {}): Promise<{ released: string[]; dropped: string[] }> {
    this.#pool(network);
    return this.#change(network, async (tx) => {
      const now = this.#now();
      const stale = (await ipamAllocations(tx, network)).filter((a) => isStale(a, liveSlots, now, options.graceMs ?? 0));
      for (const a of stale) await quarantineIpamAllocation(tx, network, a.ip, now);
      return { released: stale.map((a) => a.ip), dropped: stale.filter((a) => a.state === 'bound').map((a) => a.ip) };
    });
  }

  /** Every allocation, quarantined ones included, by network and address. */
  async allocations(network?: string): Promise<Allocation[]> {
    return (await ipamAllocations(this.#db, network)).sort(byAddress);
  }

  async usage(network: string): Promise<Usage> {
    const pool = this.#pool(network);
    const now = this.#now();
    const rows = (await ipamAllocations(this.#db, network)).filter((a) => isAllocatable(pool, a.ip));
    const count = (test: (a: Allocation) => boolean) => rows.filter(test).length;
    const allocated = count((a) => a.state === 'allocated');
    const bound = count((a) => a.state === 'bound');
    const quarantined = count((a) => a.state === 'quarantined' && !isFree(pool, a, now));
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

  /** One transaction, which takes the write lock before its first read (BEGIN IMMEDIATE), so no other process can change what this one read. */
  async #change<T>(network: string, body: (tx: Store) => Promise<T>): Promise<T> {
    const leader = this.#leader;
    try {
      return await inTransaction(this.#db, async (tx) => {
        if (leader) await requireLeaderEpoch(tx, leader, `an address change on network ${network}`);
        return body(tx);
      });
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      throw unavailable("Berth's store is busy: another berth process held its write lock past the busy timeout", { fix: 'try again', cause: error });
    }
  }
}

async function lowestFree(tx: Store, pool: CompiledPool, now: number): Promise<string> {
  const rows = await ipamAllocations(tx, pool.pool.network);
  const taken = new Set(rows.filter((a) => !isFree(pool, a, now)).map((a) => ipToInt(a.ip)));
  for (let ip = pool.first; ip <= pool.last; ip++) {
    if (!pool.reserved.has(ip) && !taken.has(ip)) return intToIp(ip);
  }
  throw exhausted(pool, rows.filter((a) => isAllocatable(pool, a.ip) && !isFree(pool, a, now)).sort(byAddress), now);
}

async function checkFree(tx: Store, pool: CompiledPool, ip: string, now: number): Promise<string> {
  const held = await ipamAllocationAt(tx, pool.pool.network, ip);
  if (held && held.state !== 'quarantined') throw ownedElsewhere(pool, held);
  if (held && !isFree(pool, held, now)) throw quarantinedElsewhere(pool, held, now);
  return ip;
}

/** Takes a never-used address, or one whose quarantine is over: the store refuses any other, whatever the caller believed. */
async function claim(tx: Store, pool: CompiledPool, ip: string, slot: string, incarnation: number, now: number): Promise<Allocation> {
  const { network, macPrefix, quarantineMs } = pool.pool;
  const claimed = await claimIpamAddress(tx, { network, ip, mac: macFor(ip, macPrefix), slot, incarnation, now }, now - quarantineMs);
  if (!claimed) throw conflict(`${ip} in pool "${network}" was taken while slot ${slot} claimed it`, { fix: 'try again' });
  return claimed;
}

/** A quarantined address finishes its quarantine without an owner to claim it back; one outside the pool now is forgotten. */
function letGo(tx: Store, pool: CompiledPool, own: Allocation): Promise<void> {
  return isAllocatable(pool, own.ip) ? disownIpamAllocation(tx, own.network, own.ip) : deleteIpamAllocation(tx, own.network, own.ip);
}

function isAllocatable(pool: CompiledPool, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= pool.first && n <= pool.last && !pool.reserved.has(n);
}

function isFree(pool: CompiledPool, a: Allocation, now: number): boolean {
  return a.state === 'quarantined' && a.releasedAt! + pool.pool.quarantineMs <= now;
}

/** An allocation `reconcile` quarantines: not quarantined, its slot has no container, and bound or older than the grace (pure). */
export function isStale(a: Pick<Allocation, 'state' | 'slot' | 'allocatedAt'>, liveSlots: ReadonlySet<string>, now: number, graceMs: number): boolean {
  return a.state !== 'quarantined' && !liveSlots.has(a.slot!) && (a.state === 'bound' || a.allocatedAt <= now - graceMs);
}
