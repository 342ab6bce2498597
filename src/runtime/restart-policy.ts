/**
 * The restart policy the engine gets for an instance.
 *
 * In an environment of two or more hosts an instance can be moved off a lost host with its IP and
 * MAC (fleet/failover.ts). An engine that comes back starts, as it boots and before any Berth
 * server or warden can reach it, every container whose restart policy says so: with
 * `unless-stopped` a moved instance's stale container would answer for its address from two hosts
 * (seen on the lab: 1.6–3.4 s, one passing its health check). So there the engine restarts nothing
 * (`no`), and Berth restarts instead: the server's reconciler recreates an instance that exited on
 * the host the ledger names, and the host watch removes, before its host counts as returning, every
 * container whose slot moved. A single-host environment has nowhere to move to: its engine keeps the
 * service's `restart`, which is then the only supervisor when no server runs.
 */
import type { ServiceSpec } from '../config/model.js';

/** The policy's name as the Engine API takes it ('' is the engine's `no`). */
export function enginePolicy(restart: ServiceSpec['restart'], environmentHosts: number): string {
  if (restart === 'no' || environmentHosts > 1) return '';
  return restart;
}

/**
 * What the spec hash sees: berth.yaml's `restart`, never the policy above. The hash thus stays what
 * it was before the engine's policy depended on the environment's hosts, and no running instance is
 * replaced for it on an upgrade; fleet/restart-policies.ts changes their engine's policy in place.
 */
export function hashedPolicy(restart: ServiceSpec['restart']): string {
  return restart === 'no' ? '' : restart;
}
