/**
 * A Berth system image (a front door, a warden…): Debian packages bootstrapped
 * into a root by the hierarchy builder, plus a few files of Berth's own, built
 * like any image of a project — the same exact keys, so it is built once and
 * found again by its key on every later call.
 *
 * The definition lives in the code; its files are written into a folder of
 * Berth's cache for the builder to read (their contents, never their times,
 * enter the key).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_FAILURE, DEFAULT_MIRROR, type BuildSettings, type ImageSpec, type Project } from '../config/model.js';
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
  /** Files put into the image, by absolute path: text and mode. */
  files: readonly { path: string; content: string; mode: number }[];
  /** Run once while the image is built (sh, traced to its failing line like any static.sh). */
  staticSh: string;
  command: readonly string[];
  labels?: Readonly<Record<string, string>>;
}

/** The project name system images are labelled with (berth.project): no user project's clean-up takes them. */
export const SYSTEM_PROJECT = 'berth-system';

export interface SystemImageContext {
  engine: Engine;
  db: Store;
  env: NodeJS.ProcessEnv;
  /** The user's build settings: the mirror and proxies to bootstrap with. */
  build?: Pick<BuildSettings, 'mirror' | 'proxy'>;
  onLine?: (text: string) => void;
}

/** The image's tag on `context.engine`, built there first when its exact key is not built yet. */
export async function ensureSystemImage(image: SystemImage, context: SystemImageContext): Promise<string> {
  const dir = join(cacheDir(context.env), 'system-images', image.name);
  // One build at a time on this machine (test files side by side, a server and a CLI): the others find it by its key.
  return withMachineLock(`${dir}.lock`, () => buildSystemImage(image, dir, context), {
    onWait: (pid) => context.onLine?.(`waiting for process ${pid}, which builds Berth's ${image.name} image`),
  });
}

async function buildSystemImage(image: SystemImage, dir: string, context: SystemImageContext): Promise<string> {
  writeImageFolder(dir, image);
  const summary = await buildProject(systemProject(dir, image, context.build), context.engine, context.db, {
    env: context.env,
    concurrency: 1,
    onEvent: (event: BuildEvent) => {
      if (event.type === 'line') context.onLine?.(event.text);
    },
  });
  const done = [...summary.built, ...summary.upToDate].find((b) => b.name === image.name);
  if (done) return done.tag;
  const failure = summary.failed[0];
  throw failed(`could not build Berth's ${image.name} image${failure ? `: ${failure.message}` : ''}`, {
    lines: failure?.tail ?? [],
    fix: 'check that the Debian mirror is reachable (berth.yaml build.mirror) and that mmdebstrap is installed',
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
    root: { kind: 'debian', suite: 'bookworm', variant: 'minbase', packages: [...image.packages], mirror: build?.mirror ?? DEFAULT_MIRROR },
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
