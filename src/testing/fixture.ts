/**
 * Throwaway projects for integration tests: a unique name, a temp folder, and
 * a cleanup that removes everything the test made: containers, images and
 * networks of the project, its front doors and registries, the bridges it
 * asked for. A signal runs the cleanup too (cleanup.ts); the folder names its
 * owner process, so a later sweep (sweep.ts) removes what a killed run left.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { connectEngine, type Engine } from '../engine/client.js';
import { registerCleanup } from './cleanup.js';
import { rawEngine, type RawEngine } from './raw-engine.js';
import { recordMade, removeLeftovers, writeOwner } from './leftovers.js';
import { sweepOnce } from './sweep.js';
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
  /** The same engine's own HTTP API, for what Berth's Engine does not show (raw-engine.ts). */
  raw: RawEngine;
  write(relative: string, content: string, mode?: number): void;
  cleanup(): Promise<void>;
}

const TINY_ROOT = join(tmpdir(), 'berth-test-tiny-root.tar');
let tinyRoot: Promise<void> | undefined;
const SIGNAL_SETTLE_MS = 2000;

/** The tiny root's tarball, written once per test process. */
export function tinyRootTarball(): Promise<string> {
  tinyRoot ??= writeTinyRoot(TINY_ROOT);
  return tinyRoot.then(() => TINY_ROOT);
}

export interface TestDir {
  /** The test project, t-xxxxxxxx: the berth.project label of everything the test makes. */
  name: string;
  dir: string;
  /** Removes the project's processes, containers, images, networks, recorded bridges and namespaces, and the folder. */
  cleanup(): Promise<void>;
}

/**
 * A test's own folder, named after its project, with an owner file, its cleanup registered for signals.
 * Tests that make no fixture but create Docker objects or bridges use it to be swept when killed.
 */
export async function claimTestDir(name = `t-${randomBytes(4).toString('hex')}`, env: NodeJS.ProcessEnv = process.env): Promise<TestDir> {
  await sweepOnce();
  const dir = mkdtempSync(join(tmpdir(), `berth-${name}-`));
  writeOwner(dir);
  const engine = connectEngine(env);
  const remove = async (settleMs: number) => {
    const failures = await removeLeftovers(engine, name, dir, settleMs);
    if (failures.length > 0) throw new Error(`cleanup of ${name} left things behind: ${failures.join('; ')}`);
  };
  // A signal interrupts the test mid-request; a pause lets the engine finish what it was sent.
  const unregister = registerCleanup(`test project ${name}`, () => remove(SIGNAL_SETTLE_MS));
  return {
    name,
    dir,
    async cleanup() {
      unregister();
      await remove(0);
    },
  };
}

export async function makeFixture(images: Record<string, FixtureImage>, extra: Record<string, unknown> = {}): Promise<Fixture> {
  const { name, dir, cleanup } = await claimTestDir();
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, '.berth') };
  const engine = connectEngine(env);
  // Docker deletes a bridge it created with the network, but a run killed between the two leaves it.
  for (const network of Object.values((extra.networks ?? {}) as Record<string, { bridge?: unknown; create_bridge?: unknown }>)) {
    if (network.create_bridge === true && typeof network.bridge === 'string') recordMade(dir, 'bridge', network.bridge);
  }
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
    raw: rawEngine(env),
    write,
    cleanup,
  };
}
