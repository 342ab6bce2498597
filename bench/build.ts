/**
 * Build benchmark (issues 2 and 24):
 *  1. the first build of an image tree (20 images, or a generated tree of --images N, depth 5)
 *     with `berth build` against the same tree as one Dockerfile per image built with
 *     `docker build` one after another (the engine's classic builder, as Debian's docker CLI
 *     for this engine's API does it);
 *  2. the no-op rebuild check of that tree (all up to date) against the same `docker build`
 *     loop with every step cached;
 *  3. the full build of the bundled example from an empty root cache, with where its time goes.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench -- [--images N] [--no-example] [--berth-runs N] [--docker-runs N]
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadProject } from '../src/config/project.js';
import { ROOTFS_LABEL } from '../src/imaging/rootfs.js';
import { buildProject } from '../src/imaging/builder.js';
import { connectEngine } from '../src/engine/client.js';
import { closeStore, openStore } from '../src/store/db.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { BERTH, DOCKER, DOCKER_ENV, invocation, loadNote, machine, median, ms, positiveFlag, REPO, timed, writeSection } from './lib.js';
import { generatedTree, ordered, tree20, writeBerthProject, writeDockerfiles } from './tree.js';

const RUNS_BERTH = positiveFlag('--berth-runs') ?? 11;
const RUNS_DOCKER = positiveFlag('--docker-runs') ?? 5;
const progress = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

async function treeComparison(dir: string, run: string, size: number) {
  const rootTar = join(dir, 'root.tar');
  await writeTinyRoot(rootTar);
  const parents = size === 20 ? tree20() : generatedTree(size);
  const berthDir = join(dir, 'berth');
  writeBerthProject(berthDir, `bench-${run}`, parents, rootTar, run);
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'state'), BERTH_CACHE_DIR: join(dir, 'cache') };

  // The root is imported before either first build, so both start from the same local base image.
  const rootTag = `berth-bench-root:${run}`;
  timed(DOCKER, ['import', rootTar, rootTag], { env: DOCKER_ENV });
  const dockerDir = join(dir, 'docker');
  const tag = (name: string) => `berth-bench-docker/${name}:${run}`;
  writeDockerfiles(dockerDir, parents, tag, rootTag, run);
  const names = ordered(parents);
  const dockerPass = () => names.reduce((sum, name) => sum + timed(DOCKER, ['build', '-q', '-t', tag(name), join(dockerDir, name)], { env: DOCKER_ENV }), 0);

  const cold = timed('node', [BERTH, 'build', '-p', berthDir], { env });
  progress(`berth first build: ${ms(cold)}`);
  const dockerCold = dockerPass();
  progress(`docker build loop, first build: ${ms(dockerCold)}`);
  const berth: number[] = [];
  for (let i = 0; i < RUNS_BERTH; i++) berth.push(timed('node', [BERTH, 'build', '-p', berthDir], { env }));
  progress(`berth no-op: ${berth.map(ms).join(', ')}`);
  const docker: number[] = [];
  for (let i = 0; i < RUNS_DOCKER; i++) {
    docker.push(dockerPass());
    progress(`docker build loop, cached: ${ms(docker.at(-1)!)}`);
  }
  return { images: names.length, cold, berth: median(berth), dockerCold, docker: median(docker), tags: [...names.map(tag), rootTag] };
}

/** Where the example's first build spends its time: the Debian root (bootstrap, import) and each image. */
interface ExampleProfile {
  total: number;
  bootstrap: number;
  importRoot: number;
  images: { name: string; ms: number }[];
}

async function exampleBuild(dir: string, run: string): Promise<ExampleProfile> {
  const example = join(dir, 'example');
  cpSync(join(REPO, 'examples'), example, { recursive: true });
  // A SOURCE_DATE_EPOCH of its own makes the root's key new (so the root is bootstrapped from
  // Debian's mirror, not found in the engine) and with it every key: a full build from nothing.
  const file = join(example, 'berth.yaml');
  const config = parse(readFileSync(file, 'utf8')) as { project: string; build?: Record<string, unknown> };
  config.project = `bench-example-${run}`;
  config.build = { ...config.build, source_date_epoch: 1_700_000_000 + parseInt(run, 16) };
  writeFileSync(file, stringify(config));
  const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'example-state'), BERTH_CACHE_DIR: join(dir, 'example-cache') };
  const project = loadProject(example, env);
  const engine = connectEngine();
  const db = await openStore(project.stateDir);
  const marks: Record<string, number> = {};
  const images: { name: string; ms: number }[] = [];
  const t0 = Date.now();
  try {
    const summary = await buildProject(project, engine, db, {
      env,
      onEvent: (event) => {
        if (event.type === 'line' && event.text.startsWith('bootstrapping root filesystem')) marks.bootstrap ??= Date.now();
        if (event.type === 'line' && event.text.startsWith('importing root filesystem')) marks.import ??= Date.now();
        if (event.type === 'start') marks[`start:${event.image}`] ??= Date.now();
        if (event.type === 'done') images.push({ name: event.image, ms: event.durationMs });
      },
    });
    if (summary.failed.length > 0) throw new Error(`the example failed to build: ${summary.failed.map((f) => f.message).join('; ')}`);
    const total = Date.now() - t0;
    const rootDone = marks[`start:${[...images].sort((a, b) => (marks[`start:${a.name}`] ?? 0) - (marks[`start:${b.name}`] ?? 0))[0]?.name}`] ?? t0;
    return {
      total,
      bootstrap: marks.bootstrap !== undefined && marks.import !== undefined ? marks.import - marks.bootstrap : 0,
      importRoot: marks.import !== undefined ? rootDone - marks.import : 0,
      images,
    };
  } finally {
    await closeStore(db);
    await engine.close();
  }
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
  const size = positiveFlag('--images') ?? 20;
  const run = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  let tags: string[] = [];
  const rootsBefore = new Set((await connectEngine().images.list(ROOTFS_LABEL)).map((i) => i.id));
  try {
    const tree = await treeComparison(dir, run, size);
    tags = tree.tags;
    const example = withExample ? await exampleBuild(dir, run) : undefined;
    const shape = size === 20 ? '20-image tree (1 root, 3, 6, 10)' : `generated ${tree.images}-image tree (depth 5, fan-out varied)`;
    const lines = [
      `## Build (issues 2 and 24)${size === 20 ? '' : `: ${tree.images} images`}`,
      '',
      `Reproduce: \`npm run bench${size === 20 ? '' : ` -- --images ${size}`}\` (\`${invocation('build')}\`). Machine: ${machine()}; ${loadNote()}. Ratios are of figures taken in this one run.`,
      '',
      '| what | Berth | plain Docker | ratio |',
      '|---|---|---|---|',
      `| first build of a ${shape}, tiny busybox root, static.sh writes one file | ${ms(tree.cold)} (\`berth build\`, one container per image, siblings in parallel) | ${ms(tree.dockerCold)} (${tree.images} × \`docker build\` one after another) | **${(tree.dockerCold / tree.cold).toFixed(2)}× faster** |`,
      `| no-op rebuild check of the same tree, all up to date (median of ${RUNS_BERTH} / ${RUNS_DOCKER} runs) | ${ms(tree.berth)} (\`berth build\`, whole CLI process) | ${ms(tree.docker)} (${tree.images} × \`docker build\`, all steps cached) | **${(tree.docker / tree.berth).toFixed(1)}× faster** |`,
      ...(example !== undefined
        ? [
            `| full build of the bundled example from nothing (6 images) | ${ms(example.total)}: Debian root bootstrapped with mmdebstrap from the mirror ${ms(example.bootstrap)}, imported ${ms(example.importRoot)}; images ${example.images.map((i) => `${i.name} ${ms(i.ms)}`).join(', ')} | – | – |`,
          ]
        : []),
      '',
      'Targets (issue 24): first build at least 1.5× faster than the `docker build` loop; no-op check of 200 images under 0.5 s whole process and at least 20× faster than the cached loop.',
    ];
    writeSection(size === 20 ? 'build' : `build-${size}`, lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await cleanup(run, dir, tags, rootsBefore);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
