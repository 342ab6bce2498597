/**
 * Throwaway projects for integration tests: a unique name, a temp folder, and
 * a cleanup that removes every image and container the test made.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { connectEngine, type Engine } from '../engine/client.js';
import { writeTinyRoot } from './tiny-root.js';

export interface FixtureImage {
  settings: Record<string, unknown>;
  static?: string;
  runtime?: string;
  /** Extra files in the image folder, e.g. "static/etc/motd". */
  files?: Record<string, string>;
}

export interface Fixture {
  name: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  engine: Engine;
  write(relative: string, content: string, mode?: number): void;
  cleanup(): Promise<void>;
}

const TINY_ROOT = join(tmpdir(), 'berth-test-tiny-root.tar');
let tinyRoot: Promise<void> | undefined;

/** The tiny root's tarball, written once per test process. */
export function tinyRootTarball(): Promise<string> {
  tinyRoot ??= writeTinyRoot(TINY_ROOT);
  return tinyRoot.then(() => TINY_ROOT);
}

export async function makeFixture(images: Record<string, FixtureImage>, extra: Record<string, unknown> = {}): Promise<Fixture> {
  const name = `t-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `berth-${name}-`));
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, '.berth') };
  const engine = connectEngine(env);
  const write = (relative: string, content: string, mode = 0o644) => {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
  };
  const yamlImages: Record<string, unknown> = {};
  for (const [image, spec] of Object.entries(images)) {
    // A unique variable on each root makes every key unique to this test, so tests never share images.
    yamlImages[image] = 'root' in spec.settings ? { ...spec.settings, env: { TEST_FIXTURE: name, ...(spec.settings.env as object) } } : spec.settings;
    write(`images/${image}/static.sh`, spec.static ?? '#!/bin/sh\n', 0o755);
    if (spec.runtime !== undefined) write(`images/${image}/runtime.sh`, spec.runtime, 0o755);
    for (const [file, content] of Object.entries(spec.files ?? {})) write(`images/${image}/${file}`, content);
  }
  write('berth.yaml', stringify({ project: name, images: yamlImages, ...extra }));
  return {
    name,
    dir,
    env,
    engine,
    write,
    async cleanup() {
      for (const id of await engine.containers.list([`berth.project=${name}`])) await engine.containers.remove(id);
      const images = await engine.images.list(`berth.project=${name}`);
      // Children first, so no image is still a parent when it is removed.
      for (const image of images.sort((a, b) => b.created - a.created)) await engine.images.remove(image.id).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
