/**
 * Ship benchmark (issue 3), in one run:
 *  1. push of the bundled example hierarchy to an empty registry: `berth push`
 *     against `docker push` of the same images, parents first, to another empty
 *     registry (rounds alternate which goes first);
 *  2. a re-push of the unchanged tree (`berth push`, whole CLI process);
 *  3. `berth registry gc` on a registry holding 50 stale builds (tiny busybox
 *     images, each with 1 MB of its own data) plus the current one.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench:ship
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
import { BERTH, DOCKER, DOCKER_ENV, invocation, loadNote, machine, median, ms, REPO, timed, writeSection } from './lib.js';

const ROUNDS = 3;
const REPUSH_RUNS = 11;
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
  const dockerTimes: number[] = [];
  const repush: number[] = [];
  const dockerTags: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = await copyProject(example, join(work, `berth-${round}`));
    const b = await copyProject(example, join(work, `docker-${round}`));
    berth(['registry', 'up', '-p', a.dir], a.env);
    berth(['registry', 'up', '-p', b.dir], b.env);
    try {
      const runBerth = () => berthTimes.push(timed('node', [BERTH, 'push', '-p', a.dir], { env: a.env }));
      const runDocker = () => {
        let total = 0;
        for (const image of built) {
          const ref = `127.0.0.1:${b.port}/${image.tag}`;
          dockerTags.push(ref);
          total += timed(DOCKER, ['tag', image.tag, ref], { env: DOCKER_ENV });
          total += timed(DOCKER, ['push', ref], { env: DOCKER_ENV });
        }
        dockerTimes.push(total);
      };
      if (round % 2 === 0) {
        runBerth();
        runDocker();
      } else {
        runDocker();
        runBerth();
      }
      if (round === 0) for (let i = 0; i < REPUSH_RUNS; i++) repush.push(timed('node', [BERTH, 'push', '-p', a.dir], { env: a.env }));
    } finally {
      berth(['registry', 'down', '-p', a.dir], a.env);
      berth(['registry', 'down', '-p', b.dir], b.env);
      rmSync(a.dir, { recursive: true, force: true });
      rmSync(b.dir, { recursive: true, force: true });
    }
  }
  for (const ref of dockerTags) spawnSync(DOCKER, ['rmi', ref], { env: DOCKER_ENV, stdio: 'ignore' });
  // Each image's own layers: its size less its parent's.
  const sizes = new Map(built.map((i) => [i.name, i.size]));
  const layerBytes = built.reduce((sum, i) => sum + i.size - (i.parent ? sizes.get(i.parent)! : 0), 0);
  return { images: built.length, layerBytes, berth: median(berthTimes), docker: median(dockerTimes), repush: median(repush), berthAll: berthTimes, dockerAll: dockerTimes };
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
    const gc = await gcBenchmark(work, run);
    const lines = [
      '## Ship (issue 3)',
      '',
      `Reproduce: \`npm run bench:ship\` (\`${invocation('ship')}\`). Machine: ${machine()}; ${loadNote()}. Registries: Berth's embedded CNCF Distribution 2.8.2 on loopback, filesystem storage, each push to a new empty one.`,
      '',
      '| what | Berth | plain Docker | ratio |',
      '|---|---|---|---|',
      `| push of the bundled example hierarchy (${push.images} images, ${mb(push.layerBytes)} of layers uncompressed) to an empty registry (median of ${ROUNDS} rounds, alternating which goes first) | ${ms(push.berth)} (\`berth push\`, parents first, siblings in parallel) | ${ms(push.docker)} (\`docker tag\` + \`docker push\` of each image, parents first) | ${(push.docker / push.berth).toFixed(2)}× |`,
      `| re-push of the unchanged tree (median of ${REPUSH_RUNS}) | ${ms(push.repush)} (whole CLI process; uploads nothing) | – | – |`,
      `| \`berth registry gc\` with ${STALE} stale builds (+1 current) of a busybox image, 1 MB of own data each | ${ms(gc.gcMs)} (whole CLI process: plan, delete ${gc.deleted} manifests, read-only restart, dry run, collection, writable restart, verify) | – | – |`,
      `| bytes freed by that GC | ${mb(gc.bytesFreed)} of ${mb(gc.sizeBefore)} (${gc.blobs} blobs) | – | – |`,
      '',
      `All rounds, Berth / Docker: ${push.berthAll.map(ms).join(', ')} / ${push.dockerAll.map(ms).join(', ')}. GC steps: ${gc.steps.map((s) => `${s.step} ${ms(s.durationMs)}`).join(', ')}.`,
      '',
      'Target: re-push of the unchanged tree under 1 s.',
    ];
    writeSection('ship', lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await cleanup(run);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
