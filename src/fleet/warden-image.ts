/**
 * The warden's image on every host: built once as a system image (imaging/system-image.ts) from what
 * warden-spec.ts describes (Debian packages through the build's mirror and proxy; no hub),
 * reused by its exact key (a second call finds the key's tag and builds nothing), and carried to the
 * other hosts as a release's image is: pushed to the project's registry and pulled by digest. The
 * warden project's builds and pushes are recorded in a store of its own, so they never show among
 * the project's images.
 */
import { clientAddress } from '../registry/paths.js';
import { pushProject } from '../registry/push.js';
import { registryPassword } from '../registry/secrets.js';
import type { RegistryAuth } from '../engine/images.js';
import { failed } from '../errors.js';
import { buildSystemImage } from '../imaging/system-image.js';
import type { RunContext } from '../runtime/context.js';
import { ImageDistribution } from '../runtime/distribute.js';
import type { Store } from '../store/db.js';
import { WARDEN_IMAGE } from './warden-spec.js';

export interface WardenImage {
  /** The engine's image ID on the build engine. */
  imageId: string;
  /** host:port/berth/warden@sha256:… once pushed (needed for any host but the build engine). */
  pushed?: { registry: string; repo: string; digest: string };
}

/**
 * Builds (or finds by its key) the warden's image on the build engine and, when `push`, pushes it to
 * the project's registry. `db` is the warden's own store.
 */
export async function buildWardenImage(run: RunContext, db: Store, options: { push: boolean }): Promise<WardenImage> {
  const engine = run.hosts.buildEngine();
  // A failed build says what failed and names the mirror; the server tries again after its next round.
  const built = await buildSystemImage(WARDEN_IMAGE, { engine, db, env: run.env, build: run.project.build });
  if (!options.push) return { imageId: built.imageId };
  // The project's registry, the warden's one image.
  const pushed = await pushProject({ ...run.project, images: built.images }, engine, db, run.env, { only: [WARDEN_IMAGE.name] });
  const image = [...pushed.pushed, ...pushed.upToDate].find((i) => i.name === WARDEN_IMAGE.name);
  if (!image) {
    const failure = pushed.failed[0];
    throw failed(`the warden's image could not be pushed to the registry at ${pushed.registry}${failure ? `: ${failure.message}` : ''}`, { fix: failure?.fix ?? 'start the registry ("berth registry up"); the server tries again after its next round' });
  }
  return { imageId: built.imageId, pushed: { registry: pushed.registry, repo: `${pushed.registry}/${image.repository}`, digest: image.digest } };
}

/** What each host creates its warden from, after making sure its engine has it (pulled by digest, once per host). */
export function wardenImageOn(run: RunContext, image: WardenImage): (host: string) => Promise<string> {
  const registry = run.project.registry;
  const address = clientAddress(registry.listen);
  const auth = (): RegistryAuth => ({ serveraddress: address, ...(registry.username !== undefined ? { username: registry.username, password: registryPassword(registry, run.env, run.project) ?? '' } : {}) });
  const distribution = image.pushed ? new ImageDistribution(run.hosts, { ref: `${image.pushed.repo}@${image.pushed.digest}`, pull: image.pushed }, auth) : undefined;
  return async (host) => {
    if (run.hosts.isBuildEngine(host)) return image.imageId;
    if (!distribution) throw failed(`host ${host} has no warden image: it was built on the build engine and never pushed`, { fix: 'run a registry the hosts reach (registry.listen in berth.yaml, "berth registry up")' });
    await distribution.ensure(host);
    return distribution.source.ref;
  };
}
