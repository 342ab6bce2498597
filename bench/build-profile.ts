/**
 * Where a first build's time goes: builds a generated tree once (in this process, so each
 * image's start and end are seen) while following the engine's events, and prints per image
 * the engine containers it ran, the commits and the time, and the totals.
 * Run: node dist/bench/build-profile.js [--images N] [--method container|dockerfile] (default: the 20-image tree, in one container each).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject } from '../src/config/project.js';
import { connectEngine } from '../src/engine/client.js';
import type { EngineEvent } from '../src/engine/events.js';
import { buildProject, type BuildMethod } from '../src/imaging/builder.js';
import { closeStore, openStore } from '../src/store/db.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { loadNote, median, ms, positiveFlag } from './lib.js';
import { generatedTree, tree20, writeBerthProject } from './tree.js';

async function main() {
  const size = positiveFlag('--images');
  const method = (process.argv[process.argv.indexOf('--method') + 1] === 'dockerfile' ? 'dockerfile' : 'container') satisfies BuildMethod;
  const parents = size === undefined ? tree20() : generatedTree(size);
  const run = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'berth-profile-'));
  const engine = connectEngine();
  const project = `bench-profile-${run}`;
  const events: EngineEvent[] = [];
  const abort = new AbortController();
  const following = (async () => {
    for await (const event of engine.events({ type: ['container', 'image'] }, abort.signal)) events.push(event);
  })();
  try {
    const rootTar = join(dir, 'root.tar');
    await writeTinyRoot(rootTar);
    writeBerthProject(join(dir, 'p'), project, parents, rootTar, run);
    const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'state'), BERTH_CACHE_DIR: join(dir, 'cache') };
    const loaded = loadProject(join(dir, 'p'), env);
    const db = await openStore(loaded.stateDir);
    const spans = new Map<string, { start: number; end?: number }>();
    const t0 = Date.now();
    const summary = await buildProject(loaded, engine, db, {
      env,
      method,
      onEvent: (e) => {
        if (e.type === 'start') spans.set(e.image, { start: Date.now() });
        if (e.type === 'done') spans.get(e.image)!.end = Date.now();
      },
    });
    const total = Date.now() - t0;
    await closeStore(db);
    await new Promise((r) => setTimeout(r, 500));
    abort.abort();
    await following.catch(() => {});
    if (summary.failed.length > 0) throw new Error(JSON.stringify(summary.failed));
    const containers = events.filter((e) => e.type === 'container' && e.action === 'create' && e.timeNano >= t0 * 1e6);
    const commits = events.filter((e) => e.type === 'container' && e.action === 'commit');
    const durations = [...spans.values()].map((s) => (s.end ?? s.start) - s.start);
    // Per container: create → destroy, the engine's cost of one step.
    const lifetimes = containers.map((c) => {
      const destroyed = events.find((e) => e.id === c.id && e.action === 'destroy');
      return destroyed ? (destroyed.timeNano - c.timeNano) / 1e6 : NaN;
    }).filter((v) => !Number.isNaN(v));
    console.log(`${method}: ${Object.keys(parents).length} images built in ${ms(total)}; ${containers.length} engine containers (${(containers.length / summary.built.length).toFixed(1)} per image), ${commits.length} commits`);
    console.log(`per image: median ${ms(median(durations))}, min ${ms(Math.min(...durations))}, max ${ms(Math.max(...durations))}`);
    if (lifetimes.length > 0) console.log(`per engine container (create → destroy): median ${ms(median(lifetimes))}, sum ${ms(lifetimes.reduce((a, b) => a + b, 0))}`);
    console.log(loadNote());
  } finally {
    abort.abort();
    for (const image of (await engine.images.list(`berth.project=${project}`)).sort((a, b) => b.created - a.created)) await engine.images.remove(image.id).catch(() => {});
    for (const root of await engine.images.list('berth.rootfs')) if (root.labels['berth.rootfs.source']?.startsWith(`${dir}/`)) await engine.images.remove(root.id).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await engine.close();
  }
}

await main();
