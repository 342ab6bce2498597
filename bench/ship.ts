/**
 * Ship benchmark (issues 3 and 24), in one run:
 *  1. push of the bundled example hierarchy to an empty registry: `berth push`
 *     against `docker push` of the same images, parents first, each to an empty
 *     registry of its own (the order of the contenders rotates each round); with
 *     `--before PATH/bin/berth.js`, an earlier Berth's push as a third contender;
 *  2. a re-push of the unchanged tree (`berth push`, whole CLI process) against
 *     `docker push` of each unchanged image again;
 *  3. `berth registry gc` on a registry holding 50 stale builds (tiny busybox
 *     images, each with 1 MB of its own data) plus the current one.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench:ship [-- --rounds N] [--before PATH/bin/berth.js] [--no-gc]
 * The example must be built (`node bin/berth.js build -p examples`); it is built first when it is not.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { connectEngine } from '../src/engine/client.js';
import { freePort } from '../src/registry/testing.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { BERTH, DOCKER, DOCKER_ENV, invocation, loadNote, machine, median, ms, positiveFlag, REPO, rotated, stringFlag, timed, writeSection } from './lib.js';

const ROUNDS = positiveFlag('--rounds') ?? 3;
const BEFORE = stringFlag('--before');
const REPUSH_RUNS = 11;
const DOCKER_REPUSH_RUNS = 3;
const progress = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const STALE = 50;

interface Image {
  name: string;
  parent: string | null;
  depth: number;
  tag: string;
  size: number;
}

function berth(args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync('node', [BERTH, ...args], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`berth ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A copy of a project with its own registry port and state dir. */
async function copyProject(source: string, dir: string, patch: (config: Record<string, unknown>) => void = () => {}) {
  cpSync(source, dir, { recursive: true, filter: (p) => !p.includes('/.berth') });
  const port = await freePort();
  const file = join(dir, 'berth.yaml');
  const config = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  config.registry = { listen: `127.0.0.1:${port}` };
  patch(config);
  writeFileSync(file, stringify(config));
  return { dir, port, env: { ...process.env, BERTH_STATE_DIR: join(dir, '.berth') } };
}

async function pushComparison(work: string) {
  const example = join(work, 'example');
  cpSync(join(REPO, 'examples'), example, { recursive: true, filter: (p) => !p.includes('/.berth') });
  const buildEnv = { ...process.env, BERTH_STATE_DIR: join(work, 'example-state') };
  const images = (JSON.parse(berth(['images', '--json', '-p', example], buildEnv)) as { images: (Image & { state: string })[] }).images;
  if (images.some((i) => i.state !== 'up to date')) {
    console.log('building the example first');
    berth(['build', '-p', example], buildEnv);
  }
  const built = (JSON.parse(berth(['images', '--json', '-p', example], buildEnv)) as { images: Image[] }).images.sort((a, b) => a.depth - b.depth);

  const berthTimes: number[] = [];
  const beforeTimes: number[] = [];
  const dockerTimes: number[] = [];
  const repush: number[] = [];
  const dockerRepush: number[] = [];
  const dockerTags: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = await copyProject(example, join(work, `berth-${round}`));
    const b = await copyProject(example, join(work, `docker-${round}`));
    const c = BEFORE === undefined ? undefined : await copyProject(example, join(work, `before-${round}`));
    const projects = [a, b, ...(c ? [c] : [])];
    for (const p of projects) berth(['registry', 'up', '-p', p.dir], p.env);
    try {
      const dockerLoop = () => {
        let total = 0;
        for (const image of built) {
          const ref = `127.0.0.1:${b.port}/${image.tag}`;
          if (!dockerTags.includes(ref)) dockerTags.push(ref);
          total += timed(DOCKER, ['tag', image.tag, ref], { env: DOCKER_ENV });
          total += timed(DOCKER, ['push', ref], { env: DOCKER_ENV });
        }
        return total;
      };
      const contenders: [string, () => void][] = [
        ['berth', () => berthTimes.push(timed('node', [BERTH, 'push', '-p', a.dir], { env: a.env }))],
        ['docker', () => dockerTimes.push(dockerLoop())],
        ...(c ? [['before', () => beforeTimes.push(timed('node', [BEFORE!, 'push', '-p', c.dir], { env: c.env }))] as [string, () => void]] : []),
      ];
      for (const [name, run] of rotated(contenders, round)) {
        run();
        progress(`round ${round + 1}: ${name} ${ms((name === 'berth' ? berthTimes : name === 'docker' ? dockerTimes : beforeTimes).at(-1)!)}`);
      }
      if (round === 0) {
        for (let i = 0; i < REPUSH_RUNS; i++) repush.push(timed('node', [BERTH, 'push', '-p', a.dir], { env: a.env }));
        for (let i = 0; i < DOCKER_REPUSH_RUNS; i++) dockerRepush.push(dockerLoop());
        progress(`re-push: berth ${repush.map(ms).join(', ')}; docker ${dockerRepush.map(ms).join(', ')}`);
      }
    } finally {
      for (const p of projects) {
        berth(['registry', 'down', '-p', p.dir], p.env);
        rmSync(p.dir, { recursive: true, force: true });
      }
    }
  }
  for (const ref of dockerTags) spawnSync(DOCKER, ['rmi', ref], { env: DOCKER_ENV, stdio: 'ignore' });
  // Each image's own layers: its size less its parent's.
  const sizes = new Map(built.map((i) => [i.name, i.size]));
  const layerBytes = built.reduce((sum, i) => sum + i.size - (i.parent ? sizes.get(i.parent)! : 0), 0);
  return {
    images: built.length,
    layerBytes,
    berth: median(berthTimes),
    docker: median(dockerTimes),
    before: beforeTimes.length > 0 ? median(beforeTimes) : undefined,
    repush: median(repush),
    dockerRepush: median(dockerRepush),
    berthAll: berthTimes,
    dockerAll: dockerTimes,
    beforeAll: beforeTimes,
    repushAll: repush,
    dockerRepushAll: dockerRepush,
  };
}

async function gcBenchmark(work: string, run: string) {
  const dir = join(work, 'gc');
  const rootTar = join(work, 'root.tar');
  await writeTinyRoot(rootTar);
  mkdirSync(join(dir, 'images', 'base'), { recursive: true });
  mkdirSync(join(dir, 'images', 'app'), { recursive: true });
  writeFileSync(join(dir, 'images', 'base', 'static.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'images', 'app', 'static.sh'), '#!/bin/sh\n', { mode: 0o755 });
  const port = await freePort();
  writeFileSync(
    join(dir, 'berth.yaml'),
    stringify({
      project: `bench-ship-${run}`,
      images: { base: { root: { tarball: rootTar }, env: { BENCH_RUN: run } }, app: { from: 'base' } },
      registry: { listen: `127.0.0.1:${port}` },
      retention: { keep_last: 1, keep_younger_than: '0s' },
    }),
  );
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, '.berth') };
  berth(['registry', 'up', '-p', dir], env);
  try {
    for (let n = 0; n <= STALE; n++) {
      writeFileSync(join(dir, 'images', 'app', 'static.sh'), `#!/bin/sh\n# build ${n}\nhead -c 1000000 /dev/urandom > /data-${n}.bin\n`, { mode: 0o755 });
      berth(['build', '-p', dir], env);
      berth(['push', '-p', dir], env);
    }
    const t0 = process.hrtime.bigint();
    const report = JSON.parse(berth(['registry', 'gc', '--json', '-p', dir], env)) as { deleted: unknown[]; bytesFreed: number; blobsDeleted: number; sizeBefore: number; steps: { step: string; durationMs: number }[] };
    const gcMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { gcMs, deleted: report.deleted.length, bytesFreed: report.bytesFreed, blobs: report.blobsDeleted, sizeBefore: report.sizeBefore, steps: report.steps };
  } finally {
    berth(['registry', 'down', '-p', dir], env);
  }
}

async function cleanup(run: string) {
  const engine = connectEngine();
  for (const image of (await engine.images.list(`berth.project=bench-ship-${run}`)).sort((a, b) => b.created - a.created)) await engine.images.remove(image.id).catch(() => {});
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function main() {
  const run = randomBytes(3).toString('hex');
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-ship-'));
  try {
    const push = await pushComparison(work);
    console.log('push:', JSON.stringify(push));
    const gc = process.argv.includes('--no-gc') ? undefined : await gcBenchmark(work, run);
    const sameRound = push.berthAll.map((t, i) => (push.dockerAll[i]! / t).toFixed(2));
    const lines = [
      '## Ship (issues 3 and 24)',
      '',
      `Reproduce: \`npm run bench:ship\` (\`${invocation('ship')}\`). Machine: ${machine()}; ${loadNote()}. Registries: Berth's embedded CNCF Distribution 2.8.2 on loopback, filesystem storage, each push to a new empty one.`,
      '',
      '| what | Berth | plain Docker | ratio |',
      '|---|---|---|---|',
      `| push of the bundled example hierarchy (${push.images} images, ${mb(push.layerBytes)} of layers uncompressed) to an empty registry (median of ${ROUNDS} rounds, the contenders' order rotating) | ${ms(push.berth)} (\`berth push\`: one export from the engine, layers uploaded uncompressed 4 at a time, parents' layers mounted, parents first) | ${ms(push.docker)} (\`docker tag\` + \`docker push\` of each image, parents first; the engine gzips each layer) | **${(push.docker / push.berth).toFixed(2)}× faster** |`,
      ...(push.before !== undefined ? [`| the same push by the Berth given as --before (the engine's push, 2 images at a time) | ${ms(push.before)} | ${ms(push.docker)} | ${(push.docker / push.before).toFixed(2)}× |`] : []),
      `| re-push of the unchanged tree (median of ${REPUSH_RUNS} / ${DOCKER_REPUSH_RUNS}) | ${ms(push.repush)} (whole CLI process; HEAD of each recorded manifest, nothing exported or uploaded) | ${ms(push.dockerRepush)} (\`docker tag\` + \`docker push\` of each image again) | ${(push.dockerRepush / push.repush).toFixed(1)}× faster |`,
      ...(gc
        ? [
            `| \`berth registry gc\` with ${STALE} stale builds (+1 current) of a busybox image, 1 MB of own data each | ${ms(gc.gcMs)} (whole CLI process: plan, delete ${gc.deleted} manifests, read-only restart, dry run, collection, writable restart, verify) | – | – |`,
            `| bytes freed by that GC | ${mb(gc.bytesFreed)} of ${mb(gc.sizeBefore)} (${gc.blobs} blobs) | – | – |`,
          ]
        : []),
      '',
      `All rounds, Berth / Docker${push.before !== undefined ? ' / before' : ''}: ${push.berthAll.map(ms).join(', ')} / ${push.dockerAll.map(ms).join(', ')}${push.before !== undefined ? ` / ${push.beforeAll.map(ms).join(', ')}` : ''}; same-round Docker ÷ Berth ${sameRound.join(', ')}. Re-push, Berth: ${push.repushAll.map(ms).join(', ')}; Docker: ${push.dockerRepushAll.map(ms).join(', ')}.${gc ? ` GC steps: ${gc.steps.map((s) => `${s.step} ${ms(s.durationMs)}`).join(', ')}.` : ''}`,
      '',
      'Targets (issue 24): re-push of the unchanged tree under 0.2 s; first push at least 1.5× faster than `docker push` of each image.',
    ];
    writeSection('ship', lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await cleanup(run);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
