/**
 * Where a re-push of the unchanged example goes (issue 24): the example pushed once to an empty
 * registry of its own, then, alternating, N times each: the whole CLI process (`berth push`), a bare
 * `node -e 0` (what starting Node alone costs on this machine now), and `pushProject` in this
 * process (prepare: inputs and one inspect per image; then one HEAD per image).
 * Run: node dist/bench/repush.js [--runs 11]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadProject } from '../src/config/project.js';
import { connectEngine } from '../src/engine/client.js';
import { pushProject } from '../src/registry/push.js';
import { freePort } from '../src/registry/testing.js';
import { closeStore, openStore } from '../src/store/db.js';
import { BERTH, loadNote, machine, median, ms, positiveFlag, REPO, timed } from './lib.js';

const RUNS = positiveFlag('--runs') ?? 11;

function berth(args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync('node', [BERTH, ...args], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`berth ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-repush-'));
  const dir = join(work, 'example');
  cpSync(join(REPO, 'examples'), dir, { recursive: true, filter: (p) => !p.includes('/.berth') });
  const file = join(dir, 'berth.yaml');
  const config = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  config.registry = { listen: `127.0.0.1:${await freePort()}` };
  writeFileSync(file, stringify(config));
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, '.berth') };
  berth(['registry', 'up', '-p', dir], env);
  const engine = connectEngine();
  try {
    const first = timed('node', [BERTH, 'push', '-p', dir], { env });
    console.error(`first push: ${ms(first)}`);
    const whole: number[] = [];
    const bare: number[] = [];
    const inProcess: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      whole.push(timed('node', [BERTH, 'push', '-p', dir], { env }));
      bare.push(timed('node', ['-e', '0']));
      const t0 = performance.now();
      const project = loadProject(dir, env, dir);
      const db = await openStore(project.stateDir);
      try {
        const summary = await pushProject(project, engine, db, env);
        if (summary.pushed.length > 0 || summary.upToDate.length !== project.images.size) throw new Error(`the re-push pushed ${summary.pushed.length} image(s)`);
      } finally {
        await closeStore(db);
      }
      inProcess.push(performance.now() - t0);
    }
    console.log(
      [
        `Re-push of the unchanged example (${machine()}; ${loadNote()}), median of ${RUNS}:`,
        `- whole CLI process \`berth push\`: ${ms(median(whole))} (${whole.map(ms).join(', ')})`,
        `- \`node -e 0\` alone: ${ms(median(bare))} (${bare.map(ms).join(', ')})`,
        `- \`pushProject\` in process (load berth.yaml, store, inspects, HEADs): ${ms(median(inProcess))} (${inProcess.map(ms).join(', ')})`,
      ].join('\n'),
    );
  } finally {
    berth(['registry', 'down', '-p', dir], env);
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
