/** Which image a deploy runs: the current build of the service's image, or the one `--image` names. */
import { prepare } from '../imaging/prepare.js';
import type { Project, ServiceSpec } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import { invalid, notFound } from '../errors.js';
import type { Store } from '../store/db.js';
import { lastPushOf } from '../store/pushes.js';

export interface DeployImage {
  /** The hierarchy's image name. */
  name: string;
  /** The engine's image ID: what containers are created from. */
  id: string;
  /** The registry's manifest digest when this build was pushed, else the image ID. */
  digest: string;
  /** Registry repository of the digest, '' when never pushed. */
  repository: string;
}

export async function resolveImage(project: Project, engine: Engine, db: Store, service: ServiceSpec, ref?: string): Promise<DeployImage> {
  const id = ref === undefined ? await currentBuild(project, engine, db, service) : await namedImage(engine, db, service, ref);
  const pushed = await lastPushOf(db, { imageId: id });
  return { name: service.image, id, digest: pushed?.digest ?? id, repository: pushed?.repository ?? '' };
}

async function currentBuild(project: Project, engine: Engine, db: Store, service: ServiceSpec): Promise<string> {
  const prepared = await prepare(project, engine, db, [service.image]);
  const image = prepared.current.get(service.image);
  if (!image) {
    throw notFound(`image "${service.image}" of service "${service.name}" has no current build`, {
      fix: `run "berth build ${service.image}", or name a built image with --image <digest|tag>`,
    });
  }
  return image.id;
}

async function namedImage(engine: Engine, db: Store, service: ServiceSpec, ref: string): Promise<string> {
  // A registry digest names a push: the registry has it, so the build engine need not (hosts pull it by digest).
  const pushed = ref.startsWith('sha256:') ? await lastPushOf(db, { digest: ref }) : undefined;
  if (pushed) {
    if (pushed.image !== service.image) throw invalid(`image "${ref}" is a build of "${pushed.image}", but service "${service.name}" runs image "${service.image}"`, { fix: `name a build of "${service.image}"` });
    return pushed.imageId;
  }
  const image = await engine.images.inspect(ref);
  if (!image) {
    throw notFound(`no image "${ref}" on the engine ${engine.endpoint}`, {
      fix: `name an image ID, a registry digest Berth pushed, or a tag such as berth/${service.image}:<key>; "berth images" lists the builds`,
    });
  }
  const built = image.labels['berth.image'];
  if (built !== service.image) {
    throw invalid(`image "${ref}" is ${built ? `a build of "${built}"` : 'not built by Berth'}, but service "${service.name}" runs image "${service.image}"`, {
      fix: `name a build of "${service.image}"`,
    });
  }
  return image.id;
}
