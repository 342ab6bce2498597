/** What every Run operation works with, and the lookups of services and environments with their clear errors. */
import type { EnvironmentSpec, NetworkSpec, Project, ServiceSpec } from '../config/model.js';
import { didYouMean } from '../config/suggest.js';
import { notFound } from '../errors.js';
import { Ipam } from '../network/ipam.js';
import { projectPools } from '../network/pool.js';
import type { Store } from '../store/db.js';
import type { LeaderFence } from '../store/leases.js';
import type { Hosts } from './hosts.js';

export interface RunContext {
  project: Project;
  db: Store;
  hosts: Hosts;
  /** The process environment: where secrets named by "env:" are read. */
  env: NodeJS.ProcessEnv;
  /** In a server: the applied configuration version the project came from (recorded with each release it makes). */
  configVersion?: number;
  /** In a server sharing its store with others: the leadership it works under (every rollout write carries its epoch). */
  leader?: LeaderFence;
}

export function serviceOf(project: Project, name: string): ServiceSpec {
  const service = project.services.get(name);
  if (service) return service;
  const names = [...project.services.keys()];
  throw notFound(`unknown service "${name}"${didYouMean(name, names)}`, {
    fix: names.length > 0 ? `use one of: ${names.join(', ')}` : `declare services under "services:" in ${project.file}`,
  });
}

export function environmentOf(project: Project, name: string): EnvironmentSpec {
  const environment = project.environments.get(name);
  if (environment) return environment;
  const names = [...project.environments.keys()];
  throw notFound(`unknown environment "${name}"${didYouMean(name, names)}`, { fix: `use one of: ${names.join(', ')}` });
}

export function networkOf(project: Project, environment: EnvironmentSpec): NetworkSpec {
  return project.networks.get(environment.network)!;
}

/** The address manager of a run: in a leading server, each change carries its leader epoch (refused under an older one). */
export function ipamOf(context: RunContext): Ipam {
  return new Ipam(context.db, projectPools(context.project), Date.now, context.leader);
}

/** Replicas of a service in an environment, after the environment's override. */
export function replicasOf(service: ServiceSpec, environment: EnvironmentSpec): number {
  return environment.services[service.name]?.replicas ?? service.replicas;
}

export function serviceEnv(service: ServiceSpec, environment: EnvironmentSpec): Record<string, string> {
  return { ...service.env, ...environment.services[service.name]?.env };
}
