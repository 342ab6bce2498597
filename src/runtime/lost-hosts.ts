/**
 * Hosts lost to the fleet: down (store/host-health.ts, the server's watcher) for longer than
 * the stop grace, and, where a warden holds a lease for the host (store/warden-leases.ts), that
 * lease ended plus the stop grace: whatever they ran is taken for stopped (the warden stops it
 * when it cannot renew, and a down host's renewals are refused). A rollout neither asks their engines nor waits for them: their
 * slots are placed elsewhere, keeping their addresses (never quarantined while the ledger
 * says a slot lives there). A down host within its grace is only unreachable, as before: a
 * rollout that needs it fails naming it, so nothing starts a second copy of what may still run.
 */
import { downHosts, hostHealth } from '../store/host-health.js';
import { wardenLeases } from '../store/warden-leases.js';
import type { RunContext } from './context.js';

export async function lostHosts(run: RunContext, now = Date.now()): Promise<Set<string>> {
  const down = await downHosts(run.db);
  if (down.size === 0) return down;
  const health = await hostHealth(run.db);
  // With no host of the fleet answering, the server is likelier cut off itself (its link, a saturated
  // machine, its own engine socket) than every host dead at once, and there is nowhere to move to:
  // nothing is lost then (Kubernetes' node controller stops evicting in a full disruption likewise).
  const answering = run.project.hosts.filter((h) => !['down', 'suspect'].includes(health.get(h.name)?.state ?? 'up'));
  if (answering.length === 0) return new Set();
  const leases = await wardenLeases(run.db);
  const grace = run.project.failure.stopGraceMs;
  return new Set([...down].filter((h) => health.get(h)!.since + grace <= now && (leases.get(h)?.expiresAt ?? 0) + grace <= now));
}

/** Hosts back after they were down, not yet settled: they get nothing new (as if draining). */
export async function returningHosts(run: RunContext): Promise<Set<string>> {
  return new Set([...(await hostHealth(run.db)).values()].filter((h) => h.state === 'returning').map((h) => h.name));
}

/** How long a warden's lease runs from a renewal: the time the server takes to call a silent host down, so its warden has stopped its instances by then. */
export function wardenLeaseMs(failure: RunContext['project']['failure']): number {
  return failure.downAfter * failure.intervalMs;
}
