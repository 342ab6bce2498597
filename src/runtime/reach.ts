/**
 * Whether each host's engine answers, asked of all of them at once. Commands
 * that span hosts ask this first, so one dead host costs at most the engine's
 * timeout (the version call's) and never blocks the answers of the others.
 */
import { isBerthError, unavailable, type BerthError } from '../errors.js';
import type { Hosts } from './hosts.js';

export type Reach =
  | { host: string; engine: string; reachable: true; version: string; apiVersion: string; rttMs: number }
  | { host: string; engine: string; reachable: false; error: string };

export interface UnreachableHost {
  host: string;
  engine: string;
  error: string;
}

export async function reachHost(hosts: Hosts, name: string): Promise<Reach> {
  const endpoint = hosts.spec(name).engine;
  const started = performance.now();
  try {
    const v = await hosts.engine(name).version();
    return { host: name, engine: endpoint, reachable: true, version: v.version, apiVersion: v.apiVersion, rttMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { host: name, engine: endpoint, reachable: false, error: reasonOf(error) };
  }
}

export function reachHosts(hosts: Hosts, names: Iterable<string>): Promise<Reach[]> {
  return Promise.all([...new Set(names)].map((n) => reachHost(hosts, n)));
}

/** Whatever the engine call threw (refused, timed out, TLS, a host unreachable at the IP level), as one line. */
export function reasonOf(error: unknown): string {
  return isBerthError(error) || error instanceof Error ? error.message : String(error);
}

/** An engine call failed because the host could not be reached (not because the engine refused the call). */
export function isHostUnreachable(error: unknown): boolean {
  return isBerthError(error) && error.kind === 'unavailable';
}

/** The error of a command that needs hosts some of which do not answer: names each, with its reason. */
export function unreachableError(unreachable: readonly UnreachableHost[], needed: string): BerthError {
  const names = unreachable.map((u) => u.host);
  return unavailable(`${names.length === 1 ? 'host' : 'hosts'} ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} unreachable; ${needed} needs ${names.length === 1 ? 'it' : 'them'}, so nothing was changed`, {
    lines: unreachable.map((u) => `${u.host} (${u.engine}): ${u.error}`),
    fix: `start the engine on ${names.join(', ')} or restore the network to it, and check with "berth hosts"; or take ${names.length === 1 ? 'it' : 'them'} out of the environment's hosts in berth.yaml`,
  });
}
