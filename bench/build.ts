/**
 * Build benchmark (issue 2):
 *  1. a no-op `berth build` of a 20-image tree (all up to date) against the same
 *     tree as 20 Dockerfiles, all cached, rebuilt with `docker build` one after another;
 *  2. the full build of the bundled example, from an empty root cache.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench -- [--no-example]
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOTFS_LABEL } from '../src/imaging/rootfs.js';
import { connectEngine } from '../src/engine/client.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { BERTH, DOCKER, DOCKER_ENV, invocation, loadNote, machine, median, ms, REPO, timed, writeSection } from './lib.js';

const RUNS_BERTH = 11;
const RUNS_DOCKER = 5;

/** base → 3 runtimes → 6 middleware → 10 business images: 20 in all. */
function tree(): Record<string, string | undefined> {
  const parents: Record<string, string | undefined> = { base: undefined, r1: 'base', r2: 'base', r3: 'base' };
  for (let i = 1; i <= 6; i++) parents[`m${i}`] = `r${Math.ceil(i / 2)}`;
  const business = ['m1', 'm1', 'm2', 'm2', 'm3', 'm4', 'm5', 'm5', 'm6', 'm6'];
  business.forEach((parent, i) => (parents[`b${i + 1}`] = parent));
  return parents;
}

async function noopComparison(dir: string, run: string) {
  const rootTar = join(dir, 'root.tar');
  await writeTinyRoot(rootTar);
  const parents = tree();
  const berthDir = join(dir, 'berth');
  const images: Record<string, unknown> = {};
  for (const [name, parent] of Object.entries(parents)) {
    images[name] = parent ? { from: parent } : { root: { tarball: rootTar }, env: { BENCH_RUN: run } };
    mkdirSync(join(berthDir, 'images', name), { recursive: true });
    writeFileSync(join(berthDir, 'images', name, 'static.sh'), `#!/bin/sh\necho ${name} > /${name}.txt\n`, { mode: 0o755 });
  }
  writeFileSync(join(berthDir, 'berth.yaml'), stringify({ project: `bench-${run}`, images }));
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'state'), BERTH_CACHE_DIR: join(dir, 'cache') };

  const cold = timed('node', [BERTH, 'build', '-p', berthDir], { env });
  const berth: number[] = [];
  for (let i = 0; i < RUNS_BERTH; i++) berth.push(timed('node', [BERTH, 'build', '-p', berthDir], { env }));

  // The same tree as plain Dockerfiles, built with the engine's classic builder.
  const dockerDir = join(dir, 'docker');
  const rootTag = `berth-bench-root:${run}`;
  timed(DOCKER, ['import', rootTar, rootTag], { env: DOCKER_ENV });
  const tag = (name: string) => `berth-bench-docker/${name}:${run}`;
  for (const [name, parent] of Object.entries(parents)) {
    const folder = join(dockerDir, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'static.sh'), `#!/bin/sh\necho ${name} > /${name}.txt\n`, { mode: 0o755 });
    writeFileSync(join(folder, 'Dockerfile'), `FROM ${parent ? tag(parent) : rootTag}\nENV BENCH_RUN=${run}\nCOPY static.sh /opt/static.sh\nRUN sh /opt/static.sh\n`);
  }
  const dockerPass = () => Object.keys(parents).reduce((sum, name) => sum + timed(DOCKER, ['build', '-q', '-t', tag(name), join(dockerDir, name)], { env: DOCKER_ENV }), 0);
  const dockerCold = dockerPass();
  const docker: number[] = [];
  for (let i = 0; i < RUNS_DOCKER; i++) docker.push(dockerPass());
  return { cold, berth: median(berth), dockerCold, docker: median(docker), tags: [...Object.keys(parents).map(tag), rootTag] };
}

function exampleBuild(dir: string, run: string): number {
  const example = join(dir, 'example');
  cpSync(join(REPO, 'examples'), example, { recursive: true });
  // A SOURCE_DATE_EPOCH of its own makes the root's key new (so the root is bootstrapped from
  // Debian's mirror, not found in the engine) and with it every key: a full build from nothing.
  const file = join(example, 'berth.yaml');
  const config = parse(readFileSync(file, 'utf8')) as { project: string; build?: Record<string, unknown> };
  config.project = `bench-example-${run}`;
  config.build = { ...config.build, source_date_epoch: 1_700_000_000 + parseInt(run, 16) };
  writeFileSync(file, stringify(config));
  return timed('node', [BERTH, 'build', '-p', example], { env: { ...process.env, BERTH_STATE_DIR: join(dir, 'example-state'), BERTH_CACHE_DIR: join(dir, 'example-cache') } });
}

async function cleanup(run: string, dir: string, dockerTags: string[], rootsBefore: ReadonlySet<string>) {
  const engine = connectEngine();
  for (const label of [`berth.project=bench-${run}`, `berth.project=bench-example-${run}`]) {
    for (const image of (await engine.images.list(label)).sort((a, b) => b.created - a.created)) await engine.images.remove(image.id).catch(() => {});
  }
  // Only its own roots: the tiny root is a tarball in the bench's folder, the example's a Debian root keyed by the bench's own
  // SOURCE_DATE_EPOCH. A tarball root of another folder was made by someone else on this shared engine meanwhile, and stays.
  const own = (source: string | undefined) => source !== undefined && (source.startsWith(`${dir}/`) || !source.startsWith('/'));
  for (const root of await engine.images.list(ROOTFS_LABEL)) if (!rootsBefore.has(root.id) && own(root.labels['berth.rootfs.source'])) await engine.images.remove(root.id).catch(() => {});
  for (const tag of dockerTags) await engine.images.remove(tag).catch(() => {});
}

async function main() {
  const withExample = !process.argv.includes('--no-example');
  const run = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  let tags: string[] = [];
  const rootsBefore = new Set((await connectEngine().images.list(ROOTFS_LABEL)).map((i) => i.id));
  try {
    const noop = await noopComparison(dir, run);
    tags = noop.tags;
    const example = withExample ? exampleBuild(dir, run) : undefined;
    const ratio = noop.docker / noop.berth;
    const lines = [
      '## Build (issue 2)',
      '',
      `Reproduce: \`npm run bench\` (\`${invocation('build')}\`). Machine: ${machine()}; ${loadNote()}.`,
      '',
      '| what | Berth | plain Docker | ratio |',
      '|---|---|---|---|',
      `| no-op rebuild check of a 20-image tree, all up to date (median of ${RUNS_BERTH} / ${RUNS_DOCKER} runs) | ${ms(noop.berth)} (\`berth build\`, whole CLI process) | ${ms(noop.docker)} (20 × \`docker build\`, all steps cached, one after another) | **${ratio.toFixed(1)}× faster** |`,
      `| first build of the same 20-image tree (tiny busybox root) | ${ms(noop.cold)} | ${ms(noop.dockerCold)} | ${(noop.dockerCold / noop.cold).toFixed(2)}× |`,
      ...(example !== undefined ? [`| full build of the bundled example from nothing (6 images: the Debian root bootstrapped with mmdebstrap from the mirror and imported, JDK 17, Tomcat 10, Node.js, two services) | ${ms(example)} | – | – |`] : []),
      '',
      'Targets: no-op under 0.5 s wall, at least 10× faster than the cached `docker build` loop.',
    ];
    writeSection('build', lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await cleanup(run, dir, tags, rootsBefore);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
