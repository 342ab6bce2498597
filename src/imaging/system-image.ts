/**
 * The one way Berth makes an image of its own (the front door, the warden): Debian
 * packages bootstrapped into a root by the hierarchy builder, plus a few files of
 * Berth's own, built like any image of a project — the same exact keys, so it is
 * built once and found again by its key on every later call. Each image is a
 * one-image project labelled berth.project=berth-system, so no user project's
 * clean-up takes it; the caller chooses the store its build is recorded in.
 *
 * The definition lives in the code; its files are written into a folder of
 * Berth's cache for the builder to read (their contents, never their times,
 * enter the key). The root's key ignores the user's sourceDateEpoch, so every
 * project on a machine shares one root for each system image.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_FAILURE, DEFAULT_MIRROR, type BuildSettings, type ImageSpec, type Project, type RootSpec } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import { failed } from '../errors.js';
import type { Store } from '../store/db.js';
import { buildProject, type BuildEvent } from './builder.js';
import { withMachineLock } from './machine-lock.js';
import { cacheDir } from './rootfs.js';

export interface SystemImage {
  /** The image's name: its tag is berth/<name>:<key>. */
  name: string;
  /** Debian packages of its root (bookworm, minbase). */
  packages: readonly string[];
  /** Files put into the image, by absolute path: text and mode (none for an image of packages only). */
  files: readonly { path: string; content: string; mode: number }[];
  /** Run once while the image is built (sh, traced to its failing line like any static.sh). */
  staticSh: string;
  command: readonly string[];
  labels?: Readonly<Record<string, string>>;
}

/** The project name system images are labelled with (berth.project): no user project's clean-up takes them. */
export const SYSTEM_PROJECT = 'berth-system';

export interface SystemImageContext {
  /** The engine it is built on (and found on). */
  engine: Engine;
  /** The store its build is recorded in. */
  db: Store;
  env: NodeJS.ProcessEnv;
  /** The user's build settings: the mirror and proxies to bootstrap with. */
  build?: Pick<BuildSettings, 'mirror' | 'proxy'>;
  onLine?: (text: string) => void;
}

export interface BuiltSystemImage {
  /** Its tag on the engine it was built on. */
  tag: string;
  imageId: string;
  /** The one-image project it was built as: what a push to a registry takes (with the caller's registry settings). */
  images: Project['images'];
}

/** The image's tag on `context.engine`, built there first when its exact key is not built yet. */
export async function ensureSystemImage(image: SystemImage, context: SystemImageContext): Promise<string> {
  return (await buildSystemImage(image, context)).tag;
}

/** The image on `context.engine` (built there first when its exact key is not built yet), with what a push needs. */
export async function buildSystemImage(image: SystemImage, context: SystemImageContext): Promise<BuiltSystemImage> {
  const dir = join(cacheDir(context.env), 'system-images', image.name);
  // One build at a time on this machine (test files side by side, a server and a CLI): the others find it by its key.
  return withMachineLock(`${dir}.lock`, () => buildIn(dir, image, context), {
    onWait: (pid) => context.onLine?.(`waiting for process ${pid}, which builds Berth's ${image.name} image`),
  });
}

/** The root it is built on (its key: rootKey(root, undefined, db)). */
export function systemImageRoot(image: SystemImage, build?: SystemImageContext['build']): RootSpec {
  return { kind: 'debian', suite: 'bookworm', variant: 'minbase', packages: [...image.packages], mirror: build?.mirror ?? DEFAULT_MIRROR };
}

async function buildIn(dir: string, image: SystemImage, context: SystemImageContext): Promise<BuiltSystemImage> {
  writeImageFolder(dir, image);
  const project = systemProject(dir, image, context.build);
  const summary = await buildProject(project, context.engine, context.db, {
    env: context.env,
    concurrency: 1,
    onEvent: (event: BuildEvent) => {
      if (event.type === 'line') context.onLine?.(event.text);
    },
  });
  const done = [...summary.built, ...summary.upToDate].find((b) => b.name === image.name);
  if (done) return { tag: done.tag, imageId: done.imageId, images: project.images };
  const failure = summary.failed[0];
  throw failed(`could not build Berth's ${image.name} image${failure ? `: ${failure.message}` : ''}`, {
    lines: failure?.tail ?? [],
    fix: 'check that the build engine reaches the Debian mirror (build.mirror, build.proxy in berth.yaml) and that mmdebstrap is installed',
  });
}

/** The folder the builder reads: static.sh, and static/<path> for each file. */
function writeImageFolder(dir: string, image: SystemImage): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'static.sh'), image.staticSh, { mode: 0o755 });
  for (const file of image.files) {
    const at = join(dir, 'static', file.path);
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, file.content, { mode: file.mode });
  }
}

function systemProject(dir: string, image: SystemImage, build: SystemImageContext['build']): Project {
  const spec: ImageSpec = {
    name: image.name,
    dir,
    settingsFile: join(dir, 'image.yaml'),
    hasRuntime: false,
    hasStatic: true,
    root: systemImageRoot(image, build),
    env: {},
    labels: { ...image.labels },
    ports: [],
    command: [...image.command],
  };
  return {
    name: SYSTEM_PROJECT,
    dir,
    file: spec.settingsFile,
    images: new Map([[image.name, spec]]),
    build: { concurrency: 1, mirror: spec.root!.kind === 'debian' ? spec.root!.mirror : DEFAULT_MIRROR, proxy: build?.proxy ?? {} },
    stateDir: dir,
    registry: { listen: '127.0.0.1:5000', storage: { kind: 'filesystem', path: join(dir, 'registry') } },
    retention: { keepLast: 1, keepYoungerThanMs: 0, keepReleases: 1 },
    hosts: [],
    failure: DEFAULT_FAILURE,
    networks: new Map(),
    services: new Map(),
    environments: new Map(),
    pipeline: [],
  };
}
