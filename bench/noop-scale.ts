/**
 * How Berth's own work in the no-op rebuild check grows with the tree (issue 24): generated
 * depth-5 trees of 20, 200 and 2,000 images (bench/tree.ts), each built once on a FakeEngine
 * (in memory: nothing runs), then the no-op check timed in this process, phase by phase: load
 * berth.yaml, open the store, `buildProject` (inputs, engine lookups, plan) with every image up
 * to date. The engine's own time (one inspect per image on a real engine) is not in these
 * figures: `npm run bench -- --images N` has the whole-process figure on the real engine.
 * Run: node dist/bench/noop-scale.js [--sizes 20,200,2000] [--runs N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject } from '../src/config/project.js';
import { buildProject } from '../src/imaging/builder.js';
import { closeStore, openStore } from '../src/store/db.js';
import { FakeEngine } from '../src/testing/fake-engine.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { loadNote, machine, median, ms, positiveFlag, stringFlag } from './lib.js';
import { generatedTree, tree20, writeBerthProject } from './tree.js';

const RUNS = positiveFlag('--runs') ?? 7;
const SIZES = (stringFlag('--sizes') ?? '20,200,2000').split(',').map(Number);

interface Phases {
  load: number;
  store: number;
  check: number;
  total: number;
}

async function measure(size: number, rootTar: string): Promise<{ size: number; first: number; runs: Phases[] }> {
  const dir = mkdtempSync(join(tmpdir(), `berth-noop-${size}-`));
  try {
    writeBerthProject(dir, `noop-${size}`, size === 20 ? tree20() : generatedTree(size), rootTar, 'scale');
    const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'state'), BERTH_CACHE_DIR: join(dir, 'cache') };
    const engine = new FakeEngine();
    const once = async (): Promise<Phases & { built: number; upToDate: number }> => {
      const t0 = performance.now();
      const project = loadProject(dir, env, dir);
      const t1 = performance.now();
      const db = await openStore(project.stateDir);
      const t2 = performance.now();
      try {
        const summary = await buildProject(project, engine, db, { env });
        const t3 = performance.now();
        if (summary.failed.length > 0) throw new Error(`${size}: ${summary.failed[0]!.message}`);
        return { load: t1 - t0, store: t2 - t1, check: t3 - t2, total: t3 - t0, built: summary.built.length, upToDate: summary.upToDate.length };
      } finally {
        await closeStore(db);
      }
    };
    const first = await once();
    if (first.built !== size) throw new Error(`${size}: the first build made ${first.built} images`);
    const runs: Phases[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await once();
      if (run.upToDate !== size) throw new Error(`${size}: the no-op check found ${run.upToDate} of ${size} up to date`);
      runs.push(run);
    }
    return { size, first: first.total, runs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'berth-noop-root-'));
  try {
    const rootTar = join(work, 'root.tar');
    await writeTinyRoot(rootTar);
    const rows: string[] = [];
    let previous: { size: number; check: number } | undefined;
    for (const size of SIZES) {
      const r = await measure(size, rootTar);
      const pick = (k: keyof Phases) => median(r.runs.map((p) => p[k]));
      const growth = previous ? `${(pick('total') / previous.check).toFixed(1)}× for ${size / previous.size}× the images` : '–';
      rows.push(`| ${size} | ${ms(pick('total'))} | ${ms(pick('load'))} | ${ms(pick('store'))} | ${ms(pick('check'))} | ${growth} |`);
      console.error(`${size}: ${r.runs.map((p) => ms(p.total)).join(', ')} (first build on the fake ${ms(r.first)})`);
      previous = { size, check: pick('total') };
    }
    const lines = [
      `Berth's own work in the no-op check (in process, FakeEngine; \`node dist/bench/noop-scale.js\`), median of ${RUNS}. Machine: ${machine()}; ${loadNote()}.`,
      '',
      '| images | total | load berth.yaml | open store | build (inputs, lookups, plan) | growth |',
      '|---|---|---|---|---|---|',
      ...rows,
    ];
    console.log(lines.join('\n'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
