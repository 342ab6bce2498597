/**
 * Each host's warden lease: until when the warden on that host may let its instances run. The
 * warden renews it (a route only its host token may call); when it cannot before `expires_at`,
 * it stops every Berth instance on its host. The failover moves a down host's instances only
 * after its lease has ended (runtime/lost-hosts.ts).
 */
import type { Store } from './db.js';

export interface WardenLease {
  host: string;
  renewedAt: number;
  expiresAt: number;
}

export async function renewWardenLease(db: Store, host: string, ttlMs: number, now = Date.now()): Promise<WardenLease> {
  const lease = { host, renewed_at: now, expires_at: now + ttlMs };
  await db.insertInto('warden_leases').values(lease).onConflict((oc) => oc.column('host').doUpdateSet({ renewed_at: now, expires_at: now + ttlMs })).execute();
  return { host, renewedAt: now, expiresAt: now + ttlMs };
}

export async function wardenLeases(db: Store): Promise<Map<string, WardenLease>> {
  const rows = await db.selectFrom('warden_leases').select(['host', 'renewed_at', 'expires_at']).execute();
  return new Map(rows.map((r) => [r.host, { host: r.host, renewedAt: r.renewed_at, expiresAt: r.expires_at }]));
}
