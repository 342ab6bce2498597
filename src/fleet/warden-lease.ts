/**
 * A warden's renewal of its host's lease (the core the route calls): granted for the time the
 * server takes to call a silent host down (lost-hosts.ts `wardenLeaseMs`), so a warden cut off
 * from the server has stopped its host's instances by the time the failover may start them
 * elsewhere. A host the server holds down is refused (a conflict): its instances are, or are
 * about to be, elsewhere, and its warden stops them at once.
 */
import { conflict } from '../errors.js';
import type { RunContext } from '../runtime/context.js';
import { wardenLeaseMs } from '../runtime/lost-hosts.js';
import { hostHealth } from '../store/host-health.js';
import { renewWardenLease } from '../store/warden-leases.js';

export interface RenewedLease {
  host: string;
  /** ISO 8601. */
  expiresAt: string;
  ttlMs: number;
}

export async function renewHostLease(run: RunContext, host: string, now = Date.now()): Promise<RenewedLease> {
  run.hosts.spec(host);
  const health = (await hostHealth(run.db)).get(host);
  if (health?.state === 'down') {
    throw conflict(`host ${host} is down since ${new Date(health.since).toISOString()} (${health.reason}): its instances fail over to other hosts; stop them`, {
      fix: `the warden stops them; once ${host} answers its engine pings again it is returning, and its lease is granted again`,
    });
  }
  const ttlMs = wardenLeaseMs(run.project.failure);
  const lease = await renewWardenLease(run.db, host, ttlMs, now);
  return { host, expiresAt: new Date(lease.expiresAt).toISOString(), ttlMs };
}
