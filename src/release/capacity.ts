/**
 * Whether an environment can hold N instances of a service, decided before
 * anything is planned: a flat network's free addresses, a host network's hosts,
 * and Berth's ceiling per service and environment.
 */
import { invalid, type BerthError } from '../errors.js';

/** The most instances of one service in one environment (docs/release.md). */
export const MAX_REPLICAS = 1000;

export interface CapacityInput {
  service: string;
  environment: string;
  replicas: number;
  network: { name: string; mode: 'flat' | 'nat' | 'host' };
  /** The environment's hosts. */
  hosts: number;
  /** Flat networks: addresses free in the pool, and those the service's slots in the environment already hold. */
  pool?: { free: number; held: number };
}

/** The first limit `replicas` goes over, as an error naming what is short; undefined when it fits. */
export function capacityProblem(c: CapacityInput): BerthError | undefined {
  const scale = (n: number) => `berth scale ${c.service}=${n} --env ${c.environment}`;
  if (c.replicas > MAX_REPLICAS) {
    return invalid(`${c.replicas} instances of ${c.service} in ${c.environment} is more than Berth runs per service and environment (${MAX_REPLICAS})`, {
      fix: `ask for ${MAX_REPLICAS} or fewer: ${scale(MAX_REPLICAS)}`,
    });
  }
  if (c.network.mode === 'host' && c.replicas > c.hosts) {
    return invalid(`${c.environment} is on the host network "${c.network.name}", which runs one instance per host: ${c.replicas} instances need ${c.replicas} hosts, it has ${c.hosts}`, {
      fix: `ask for at most ${c.hosts} (${scale(c.hosts)}), or add hosts to environments.${c.environment}.hosts`,
    });
  }
  if (c.network.mode === 'flat' && c.pool) {
    const room = c.pool.free + c.pool.held;
    if (c.replicas > room) {
      return invalid(
        `the address pool of network "${c.network.name}" has room for ${room} instance(s) of ${c.service} (${c.pool.held} address(es) its slots hold, ${c.pool.free} free), not ${c.replicas}`,
        { fix: `ask for at most ${room} (${scale(room)}), or widen networks.${c.network.name}.range in berth.yaml (berth ipam shows what holds the addresses)` },
      );
    }
  }
  return undefined;
}
