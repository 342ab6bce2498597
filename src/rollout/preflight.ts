/**
 * Before a rollout changes anything anywhere: every host it may touch (the
 * environment's, and those its slots are on) answers. A dead one fails the
 * rollout here, naming it, instead of halfway through with some hosts changed.
 */
import type { EnvironmentSpec } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import type { Hosts } from '../runtime/hosts.js';
import { reachHosts, unreachableError } from '../runtime/reach.js';
import { slotsOf } from '../store/deployments.js';
import { lostHosts } from '../runtime/lost-hosts.js';

// Each host is asked once per Hosts (one command's): a deploy resuming an interrupted rollout reaches the preflight more than once.
const answered = new WeakMap<Hosts, Set<string>>();

export async function hostsTouched(run: RunContext, service: string, environment: EnvironmentSpec): Promise<string[]> {
  // A lost host (down past its grace) is out of the fleet: its slots fail over, nothing waits for it.
  const lost = await lostHosts(run);
  const known = new Set(run.project.hosts.map((h) => h.name).filter((h) => !lost.has(h)));
  // A slot on a host no longer in berth.yaml cannot be reached at all; observing the service reports it.
  return [...new Set([...environment.hosts, ...(await slotsOf(run.db, service, environment.name)).map((s) => s.host)])].filter((h) => known.has(h));
}

export async function requireHosts(run: RunContext, service: string, environment: EnvironmentSpec, what: string): Promise<void> {
  const seen = answered.get(run.hosts) ?? new Set<string>();
  answered.set(run.hosts, seen);
  const reached = await reachHosts(run.hosts, (await hostsTouched(run, service, environment)).filter((h) => !seen.has(h)));
  for (const r of reached) if (r.reachable) seen.add(r.host);
  const silent = reached.flatMap((r) => (r.reachable ? [] : [{ host: r.host, engine: r.engine, error: r.error }]));
  if (silent.length > 0) throw unreachableError(silent, what);
}
