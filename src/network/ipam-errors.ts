/** IPAM's errors: each says which pool, what holds the addresses and what the user can do. */
import { conflict, invalid, unavailable, type BerthError } from '../errors.js';
import { intToIp, parseIp } from './addresses.js';
import type { Allocation } from '../store/ipam.js';
import type { Pool } from './pool.js';

/** A pool with its addresses as integers, for the allocator. */
export interface CompiledPool {
  pool: Pool;
  first: number;
  last: number;
  reserved: Set<number>;
  size: number;
}

const MAX_LISTED = 10;

/** The preferred address in canonical form, or an invalid-input error when it is outside the pool or reserved. */
export function checkPreferred(pool: CompiledPool, preferred: string): string {
  const { network, first, last } = pool.pool;
  const ip = parseIp(preferred);
  if (ip === undefined) throw invalid(`requested address ${JSON.stringify(preferred)} is not an IPv4 address`, { fix: 'write it like 10.77.0.120' });
  if (ip < pool.first || ip > pool.last) {
    throw invalid(`${preferred} is outside pool "${network}" (${first}-${last})`, { fix: `request an address in ${first}-${last}, or widen networks.${network}.range` });
  }
  if (pool.reserved.has(ip)) {
    const what = intToIp(ip) === pool.pool.gateway ? 'the gateway' : "reserved (a host's own address or listed under reserved)";
    throw invalid(`${preferred} is ${what} in pool "${network}"`, { fix: 'request another address' });
  }
  return intToIp(ip);
}

export function ownedElsewhere(pool: CompiledPool, owner: Allocation): BerthError {
  const container = owner.containerId ? `, bound to container ${owner.containerId.slice(0, 12)}` : ', its container not created yet';
  return conflict(`${owner.ip} in pool "${pool.pool.network}" is already owned by slot ${owner.slot} (incarnation ${owner.incarnation}${container})`, {
    fix: `request another address, or release slot ${owner.slot}'s first`,
  });
}

export function quarantinedElsewhere(pool: CompiledPool, held: Allocation, now: number): BerthError {
  const wait = seconds(held.releasedAt! + pool.pool.quarantineMs - now);
  const by = held.slot ? ` by slot ${held.slot}` : '';
  return unavailable(`${held.ip} in pool "${pool.pool.network}" was released${by} and stays quarantined for another ${wait}`, {
    fix: `wait ${wait}, or request another address`,
  });
}

/** Every allocatable address is held: in use, or quarantined. Conflict when only a change of plan helps, unavailable when waiting does. */
export function exhausted(pool: CompiledPool, held: Allocation[], now: number): BerthError {
  const { network, first, last, quarantineMs } = pool.pool;
  const inUse = held.filter((a) => a.state !== 'quarantined');
  const waiting = held.filter((a) => a.state === 'quarantined');
  const bound = inUse.filter((a) => a.state === 'bound').length;
  const message =
    `pool "${network}" is exhausted: all ${pool.size} addresses of ${first}-${last} are taken ` +
    `(${bound} bound, ${inUse.length - bound} allocated, ${waiting.length} quarantined)`;
  const lines = [`in use: ${listed(inUse.map((a) => `${a.slot} ${a.ip}`))}`];
  const fixes = [`widen networks.${network}.range in berth.yaml`, 'scale a service down'];
  if (waiting.length > 0) {
    const soonest = Math.min(...waiting.map((a) => a.releasedAt! + quarantineMs)) - now;
    lines.push(`quarantined: ${listed(waiting.map((a) => `${a.ip}${a.slot ? ` (was ${a.slot})` : ''}`))}; the first is free again in ${seconds(soonest)}`);
    fixes.push(`wait ${seconds(soonest)} for the first quarantined address`);
  }
  const fix = `${fixes.slice(0, -1).join(', ')} or ${fixes.at(-1)}`;
  return (waiting.length > 0 ? unavailable : conflict)(message, { fix, lines });
}

function listed(items: string[]): string {
  if (items.length === 0) return 'none';
  const more = items.length - MAX_LISTED;
  return items.slice(0, MAX_LISTED).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

const seconds = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))} s`;
