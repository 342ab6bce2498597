/** What `berth ps` and GET /v1/instances show: every instance of the filter, and the hosts that did not answer. */
import { unavailable } from '../errors.js';
import { environmentOf, serviceOf, type RunContext } from './context.js';
import { listFleet, type InstanceStatus } from './instances.js';
import type { UnreachableHost } from './reach.js';

export interface FleetInstances {
  instances: InstanceStatus[];
  unreachable: UnreachableHost[];
}

export async function fleetInstances(run: RunContext, filter: { environment?: string; service?: string }): Promise<FleetInstances> {
  const { instances, unreachable } = await listFleet(run, {
    ...(filter.environment !== undefined ? { environment: environmentOf(run.project, filter.environment).name } : {}),
    ...(filter.service !== undefined ? { service: serviceOf(run.project, filter.service).name } : {}),
    withMissing: true,
  });
  // With every host silent there is nothing to show but the store's memory: an error, as with one dead engine before.
  if (unreachable.length === run.project.hosts.length) throw noHostAnswered(unreachable);
  return { instances, unreachable };
}

function noHostAnswered(unreachable: readonly UnreachableHost[]) {
  return unavailable(`no host answered, so berth ps cannot say what runs`, {
    lines: unreachable.map((u) => `${u.host} (${u.engine}): ${u.error}`),
    fix: 'start the engines or restore the network to them, and check with "berth hosts"',
  });
}
