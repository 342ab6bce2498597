/**
 * Names joined with '-' must not collide: service "web-prod" in environment
 * "eu" and service "web" in "prod-eu" would both make slot "web-prod-eu-1"
 * (the same container, hostname and address), and environment "a-b" with
 * service "c" would share the front door of environment "a" with service
 * "b-c". Pure: a project with such a pair is refused at load.
 */
export interface NameCollision {
  /** The pair declared first, and the one that collides with it. */
  first: { service: string; environment: string };
  second: { service: string; environment: string };
  /** What both would be named. */
  name: string;
  what: 'slots' | 'front door';
}

export function nameCollisions(services: readonly string[], environments: readonly string[]): NameCollision[] {
  const found: NameCollision[] = [];
  const check = (what: NameCollision['what'], nameOf: (service: string, environment: string) => string) => {
    const seen = new Map<string, { service: string; environment: string }>();
    for (const environment of environments) {
      for (const service of services) {
        const name = nameOf(service, environment);
        const first = seen.get(name);
        if (first) found.push({ first, second: { service, environment }, name, what });
        else seen.set(name, { service, environment });
      }
    }
  };
  check('slots', (s, e) => `${s}-${e}`);
  check('front door', (s, e) => `${e}-${s}`);
  return found;
}
