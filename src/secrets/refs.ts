/** Which source each secret of a service has in an environment (pure, over the project model). */
import type { EnvironmentSpec, Project, ServiceSecretRef, ServiceSpec } from '../config/model.js';
import type { SecretAddress } from '../store/secrets.js';

/** A service's secrets in an environment, each with its berth.yaml key (for messages): the environment's override the service's. */
export function secretRefsOf(service: ServiceSpec, environment: EnvironmentSpec): Map<string, { ref: ServiceSecretRef; key: string }> {
  const refs = new Map(Object.entries(service.secrets).map(([name, ref]) => [name, { ref, key: `services.${service.name}.secrets.${name}` }]));
  for (const [name, ref] of Object.entries(environment.services[service.name]?.secrets ?? {})) {
    refs.set(name, { ref, key: `environments.${environment.name}.services.${service.name}.secrets.${name}` });
  }
  return refs;
}

export function isStored(ref: ServiceSecretRef | undefined): ref is { stored: true } {
  return ref !== undefined && 'stored' in ref;
}

/** Whether berth.yaml reads this secret from the store (false for a service or environment it does not declare). */
export function readsFromStore(project: Project, address: SecretAddress): boolean {
  const service = project.services.get(address.service);
  const environment = project.environments.get(address.environment);
  return service !== undefined && environment !== undefined && isStored(secretRefsOf(service, environment).get(address.name)?.ref);
}

/** Every secret berth.yaml reads from the store for the service, per environment (or in one). */
export function storedRefsOf(project: Project, service: string, only?: string): SecretAddress[] {
  const spec = project.services.get(service);
  if (!spec) return [];
  return [...project.environments.values()]
    .filter((e) => only === undefined || e.name === only)
    .flatMap((e) => [...secretRefsOf(spec, e)].filter(([, { ref }]) => isStored(ref)).map(([name]) => ({ service, environment: e.name, name })));
}
