/**
 * Images already there for a failover: the release each environment runs is pulled onto every
 * host of that environment that may run its instances (not lost ones), so recreating an instance
 * elsewhere never waits on the registry, and still works while the registry's machine is the one
 * that died. The server runs it in the background after each round of its host watch; `done`
 * remembers what is on which host, so only a new release (or a new or returned host) costs a pull.
 */
import type { RunContext } from '../runtime/context.js';
import { distributionFor, requireDistributable } from '../runtime/distribute.js';
import { lostHosts } from '../runtime/lost-hosts.js';
import { reasonOf } from '../runtime/reach.js';
import { currentRelease, releaseOf } from '../store/releases.js';

export interface Prepulled {
  service: string;
  environment: string;
  release: number;
  host: string;
  /** Why it could not (the host did not answer, the registry refused); absent when it is there. */
  error?: string;
}

export async function prepullReleases(run: RunContext, done: Set<string> = new Set()): Promise<Prepulled[]> {
  const lost = await lostHosts(run);
  const results: Prepulled[] = [];
  for (const environment of run.project.environments.values()) {
    for (const service of run.project.services.keys()) {
      const number = await currentRelease(run.db, service, environment.name);
      const release = number === undefined ? undefined : await releaseOf(run.db, service, number);
      if (!release) continue;
      const hosts = environment.hosts.filter((h) => !lost.has(h) && !done.has(key(release.service, release.number, h)));
      if (hosts.length === 0) continue;
      const images = await distributionFor(run, release);
      try {
        requireDistributable(run, release, images, hosts);
      } catch (error) {
        // An image only the build engine has (never pushed) cannot reach other hosts: the rollout that needs it says so.
        results.push(...hosts.map((host) => ({ service, environment: environment.name, release: release.number, host, error: reasonOf(error) })));
        continue;
      }
      for (const host of hosts) {
        try {
          await images.ensure(host);
          done.add(key(release.service, release.number, host));
          results.push({ service, environment: environment.name, release: release.number, host });
        } catch (error) {
          results.push({ service, environment: environment.name, release: release.number, host, error: reasonOf(error) });
        }
      }
    }
  }
  return results;
}

function key(service: string, release: number, host: string): string {
  return `${service}\0${release}\0${host}`;
}
