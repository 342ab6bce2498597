/**
 * `berth status`: each service × environment that runs a release, its scale,
 * what runs and is healthy, and its drift, from the reconciler's own planner:
 * what a pass would fix shows as drift too ("the reconciler recreates it").
 * Reads only.
 */
import type { RunContext } from '../runtime/context.js';
import { gatherState } from './gather.js';
import { actionAsDrift, planReconcile, type Drift } from './plan.js';

export interface StatusDrift {
  kind: Drift['kind'];
  slot?: string;
  host?: string;
  message: string;
}

export interface EnvironmentStatus {
  service: string;
  environment: string;
  release: number;
  replicas: number;
  /** Containers of its slots that run. */
  running: number;
  /**
   * Of those, the ones not failing the engine's health check. One the engine still calls "starting" counts:
   * Berth's own gate admitted it before it went into the front door, and the engine's first probe may come later.
   */
  healthy: number;
  drift: StatusDrift[];
}

export interface ProjectStatus {
  environments: EnvironmentStatus[];
  /** All of it: each service × environment's drift (with service and environment) and the hosts' own. */
  drift: Drift[];
}

export async function statusOf(run: RunContext): Promise<ProjectStatus> {
  const { desired, observed } = await gatherState(run);
  const plan = planReconcile(desired, observed);
  const drift = [...plan.drift, ...plan.actions.map(actionAsDrift)].sort(byPlace);
  const environments = desired
    .map((pair): EnvironmentStatus => {
      const mains = observed.instances.filter((i) => i.service === pair.service && i.environment === pair.environment && i.role === 'main');
      const running = mains.filter((i) => i.state === 'running');
      return {
        service: pair.service,
        environment: pair.environment,
        release: pair.release,
        replicas: pair.replicas,
        running: running.length,
        healthy: running.filter((i) => !/\(unhealthy\)/.test(i.status)).length,
        drift: drift.filter((d) => d.service === pair.service && d.environment === pair.environment).map(({ kind, slot, host, message }) => ({ kind, ...(slot ? { slot } : {}), ...(host ? { host } : {}), message })),
      };
    })
    .sort((a, b) => a.environment.localeCompare(b.environment) || a.service.localeCompare(b.service));
  return { environments, drift };
}

function byPlace(a: Drift, b: Drift): number {
  return (
    (a.environment ?? '').localeCompare(b.environment ?? '') ||
    (a.service ?? '').localeCompare(b.service ?? '') ||
    (a.slot ?? '').localeCompare(b.slot ?? '', 'en', { numeric: true }) ||
    a.kind.localeCompare(b.kind)
  );
}
