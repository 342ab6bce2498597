/**
 * Instances made before their engine's policy depended on the environment's hosts
 * (runtime/restart-policy.ts) still carry berth.yaml's `restart` (`unless-stopped` by default), so a
 * host that comes back after a failover would start their stale containers. Their spec hash did not
 * change, so no rollout replaces them for it: this pass changes their engine's policy in place
 * (the engine neither stops nor recreates them), on every host of an environment of two or more
 * hosts that is not lost. `done` remembers the containers looked at, so each costs one inspect per
 * server process. The server runs it in the background after each round of its host watch.
 */
import type { RunContext } from '../runtime/context.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { lostHosts } from '../runtime/lost-hosts.js';
import { isHostUnreachable, reasonOf } from '../runtime/reach.js';
import { enginePolicy } from '../runtime/restart-policy.js';

export interface PolicySet {
  host: string;
  container: string;
  from: string;
  to: string;
}

export async function settleRestartPolicies(run: RunContext, done: Set<string> = new Set()): Promise<{ set: PolicySet[]; failed: { host: string; error: string }[] }> {
  const lost = await lostHosts(run);
  const set: PolicySet[] = [];
  const failed: { host: string; error: string }[] = [];
  for (const environment of run.project.environments.values()) {
    if (environment.hosts.length < 2) continue;
    for (const host of environment.hosts.filter((h) => !lost.has(h))) {
      const engine = run.hosts.engine(host);
      try {
        const found = await engine.containers.summaries([`${RUN_LABELS.project}=${run.project.name}`, `${RUN_LABELS.environment}=${environment.name}`, RUN_LABELS.instance]);
        for (const c of found.filter((c) => !done.has(c.id))) {
          const service = run.project.services.get(c.labels[RUN_LABELS.service] ?? '');
          const state = await engine.containers.inspect(c.id);
          if (!service || !state) continue;
          const wanted = enginePolicy(service.restart, environment.hosts.length) || 'no';
          if (state.restartPolicy !== wanted) {
            await engine.containers.setRestartPolicy(c.id, wanted);
            set.push({ host, container: c.name, from: state.restartPolicy, to: wanted });
          }
          done.add(c.id);
        }
      } catch (error) {
        // A host that does not answer now is asked again after the next round.
        if (!isHostUnreachable(error)) throw error;
        failed.push({ host, error: reasonOf(error) });
      }
    }
  }
  return { set, failed };
}
