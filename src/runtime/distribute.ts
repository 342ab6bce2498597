/**
 * Images travel through the registry: a rollout's containers are created from
 * the registry's digest reference (<registry>/<repo>@sha256:…) on every host
 * once the build was pushed, and each host's engine pulls that digest before
 * its first instance is created, once per rollout, hosts in parallel. An image
 * never pushed exists only on the build engine, so only that engine can run it.
 *
 * `imageSource` and `distributionProblem` are pure; `ImageDistribution` is the
 * thin executor with the per-host memo.
 */
import { isLoopbackListen } from '../config/ship-config.js';
import type { RegistryAuth } from '../engine/images.js';
import { BerthError, invalid, notFound } from '../errors.js';
import { clientAddress } from '../registry/paths.js';
import { registryPassword } from '../registry/secrets.js';
import { lastPushTo, type PushRecord } from '../store/pushes.js';
import type { RunContext } from './context.js';
import type { Hosts } from './hosts.js';

/** What a release names: its hierarchy image, the engine's image ID, the registry digest (the image ID when not pushed then) and repository ('' then). */
export interface ReleasedImage {
  image: string;
  imageId: string;
  digest: string;
  repository: string;
}

export interface ImageSource {
  /** What containers are created from. */
  ref: string;
  /** The registry's copy, when the build was pushed to the project's registry. */
  pull?: { registry: string; repo: string; digest: string };
}

/** The push of a release's image to `registry` (by its digest once pushed, else by its image ID): what a rollout looks up. */
export function pushLookup(image: ReleasedImage): { digest: string } | { imageId: string } {
  return image.repository !== '' ? { digest: image.digest } : { imageId: image.imageId };
}

/** The digest reference when the image was pushed to the project's registry, else the image ID. */
export function imageSource(image: ReleasedImage, push: PushRecord | undefined): ImageSource {
  if (!push) return { ref: image.imageId };
  const repo = `${push.registry}/${push.repository}`;
  return { ref: `${repo}@${push.digest}`, pull: { registry: push.registry, repo, digest: push.digest } };
}

export interface HostReach {
  name: string;
  /** Its engine is the one that built the image (Berth's own engine). */
  build: boolean;
  /** Its engine runs on this machine (unix://), so it reaches a registry on loopback. */
  local: boolean;
}

/** Why the image cannot reach every host of the rollout, or undefined when it can. */
export function distributionProblem(image: ReleasedImage, source: ImageSource, hosts: readonly HostReach[], registry: { address: string; loopback: boolean }): BerthError | undefined {
  if (!source.pull) {
    const others = hosts.filter((h) => !h.build).map((h) => h.name);
    if (others.length === 0) return undefined;
    return notFound(`image ${image.image} (${image.imageId}) was never pushed to the registry; run: berth push ${image.image}`, {
      lines: [`only the build engine has it, and ${others.length > 1 ? 'hosts' : 'host'} ${others.join(', ')} can get it only from the registry at ${registry.address}`],
      fix: `run "berth push ${image.image}" (with the registry up: "berth registry up"), then run this command again`,
    });
  }
  const remote = hosts.filter((h) => !h.local).map((h) => h.name);
  if (registry.loopback && remote.length > 0) {
    return invalid(`the registry is reached at ${registry.address}, a loopback address, which ${remote.length > 1 ? 'hosts' : 'host'} ${remote.join(', ')} cannot reach`, {
      fix: 'set registry.listen in berth.yaml to this machine\'s address on the hosts\' network (with htpasswd, username and password; Berth makes the TLS certificates), then run "berth registry up", "berth push" and this command again',
    });
  }
  return undefined;
}

export interface Ensured {
  host: string;
  /** False when the engine had the digest already. */
  pulled: boolean;
  /** Layers the engine downloaded (those it had are not downloaded again). */
  downloaded: number;
}

/** Per rollout: each host's engine gets the image by digest at most once (the memo), whatever number of instances it starts. */
export class ImageDistribution {
  readonly #ensured = new Map<string, Promise<Ensured>>();

  constructor(
    private readonly hosts: Hosts,
    readonly source: ImageSource,
    /** The registry's credentials, read only when a pull is needed. */
    private readonly auth: () => RegistryAuth,
    private readonly onPull: (result: Ensured) => void = () => {},
  ) {}

  /** Makes sure the host's engine has `source.ref`, pulling it when absent; the engine's error when the pull fails. */
  ensure(host: string): Promise<Ensured> {
    let known = this.#ensured.get(host);
    if (!known) {
      known = this.fetch(host);
      this.#ensured.set(host, known);
    }
    return known;
  }

  /** Whether the host's engine has the image already (or needs none pulled: never pushed, the build engine has it), reading only. */
  async has(host: string): Promise<boolean> {
    const { pull, ref } = this.source;
    return !pull || (await this.hosts.engine(host).images.has(ref));
  }

  /** Hosts whose engine pulled the image in this rollout. */
  async pulled(): Promise<string[]> {
    const results = await Promise.allSettled(this.#ensured.values());
    return results.flatMap((r) => (r.status === 'fulfilled' && r.value.pulled ? [r.value.host] : []));
  }

  private async fetch(host: string): Promise<Ensured> {
    const { pull, ref } = this.source;
    // An image never pushed: the build engine has it by ID (distributionProblem refused any other host before).
    if (!pull) return { host, pulled: false, downloaded: 0 };
    const images = this.hosts.engine(host).images;
    if (await images.has(ref)) return { host, pulled: false, downloaded: 0 };
    const { downloaded } = await images.pull(pull.repo, pull.digest, this.auth());
    const result = { host, pulled: true, downloaded };
    this.onPull(result);
    return result;
  }
}

/** The rollout's distribution of a release's image: its source from the pushes to the project's registry, and that registry's credentials. */
export async function distributionFor(run: RunContext, image: ReleasedImage, onPull?: (result: Ensured) => void): Promise<ImageDistribution> {
  const registry = run.project.registry;
  const address = clientAddress(registry.listen);
  const source = imageSource(image, await lastPushTo(run.db, address, pushLookup(image)));
  const auth = (): RegistryAuth => ({ serveraddress: address, ...(registry.username !== undefined ? { username: registry.username, password: registryPassword(registry, run.env, run.project) ?? '' } : {}) });
  return new ImageDistribution(run.hosts, source, auth, onPull);
}

/** Refuses, before anything changes, a rollout whose image cannot reach one of `hosts`. */
export function requireDistributable(run: RunContext, image: ReleasedImage, distribution: ImageDistribution, hosts: readonly string[]): void {
  const reach = hosts.map((name) => ({ name, build: run.hosts.isBuildEngine(name), local: run.hosts.isLocal(name) }));
  const address = clientAddress(run.project.registry.listen);
  const problem = distributionProblem(image, distribution.source, reach, { address, loopback: isLoopbackListen(address) });
  if (problem) throw problem;
}
