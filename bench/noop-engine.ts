/**
 * The no-op rebuild check of a big generated tree on the real engine, whole CLI process (issue 24),
 * without building N images first: the root image is built for real (`berth build base`), then the
 * engine is given every other image of the tree as Berth would have made it — each config carries
 * the key Berth computes for it (its parent's image ID included) and the root's layers — through
 * one `docker load` of configs only (the layers are the root's, which the engine has). The engine
 * then holds N images Berth finds up to date, as after a first build, and `berth build` is timed.
 * Run: node dist/bench/noop-engine.js [--images 2000] [--runs 5]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { loadProject } from '../src/config/project.js';
import { connectEngine } from '../src/engine/client.js';
import { keyOf } from '../src/imaging/plan.js';
import { KEY_LABEL, prepare } from '../src/imaging/prepare.js';
import { imageTag } from '../src/imaging/recipe.js';
import { ROOTFS_LABEL } from '../src/imaging/rootfs.js';
import { closeStore, openStore } from '../src/store/db.js';
import { writeTinyRoot } from '../src/testing/tiny-root.js';
import { BERTH, DOCKER, DOCKER_ENV, loadNote, machine, median, ms, positiveFlag, timed } from './lib.js';
import { generatedTree, writeBerthProject } from './tree.js';

const SIZE = positiveFlag('--images') ?? 2000;
const RUNS = positiveFlag('--runs') ?? 5;
const progress = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);

function run(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

async function main() {
  const tag = randomBytes(3).toString('hex');
  const project = `bench-noop-${tag}`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-noop-engine-'));
  const engine = connectEngine();
  try {
    const rootTar = join(dir, 'root.tar');
    await writeTinyRoot(rootTar);
    writeBerthProject(join(dir, 'p'), project, generatedTree(SIZE), rootTar, tag);
    const env = { ...process.env, BERTH_STATE_DIR: join(dir, 'state'), BERTH_CACHE_DIR: join(dir, 'cache') };
    run('node', [BERTH, 'build', 'base', '-p', join(dir, 'p')], env);

    const loaded = loadProject(join(dir, 'p'), env, dir);
    const db = await openStore(loaded.stateDir);
    const tarFile = join(dir, 'images.tar');
    try {
      const prepared = await prepare(loaded, engine, db);
      const base = prepared.current.get('base')!;
      const layers = JSON.parse(run(DOCKER, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', base.id], DOCKER_ENV)) as string[];
      const ids = new Map<string, string>([['base', base.id]]);
      const tar = pack();
      const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
      for (const image of prepared.images) {
        if (image.name === 'base') continue;
        const parentId = ids.get(image.parent!)!;
        const key = keyOf(image, parentId);
        const config = Buffer.from(
          JSON.stringify({
            architecture: 'amd64',
            os: 'linux',
            created: new Date().toISOString(),
            config: { Labels: { ...base.labels, [KEY_LABEL]: key, 'berth.image': image.name } },
            rootfs: { type: 'layers', diff_ids: layers },
          }),
        );
        const hex = createHash('sha256').update(config).digest('hex');
        ids.set(image.name, `sha256:${hex}`);
        tar.entry({ name: `${hex}.json` }, config);
        manifest.push({ Config: `${hex}.json`, RepoTags: [imageTag(image.name, key)], Layers: layers.map((l) => `${l.slice(7)}/layer.tar`) });
      }
      tar.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
      tar.finalize();
      await pipeline(tar, createWriteStream(tarFile));
    } finally {
      await closeStore(db);
    }
    const loadMs = timed(DOCKER, ['load', '-q', '-i', tarFile], { env: DOCKER_ENV });
    progress(`${SIZE - 1} images loaded into the engine in ${ms(loadMs)}`);

    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const summary = JSON.parse(run('node', [BERTH, 'build', '--json', '-p', join(dir, 'p')], env)) as { built: unknown[]; upToDate: unknown[] };
      times.push(performance.now() - t0);
      if (summary.upToDate.length !== SIZE || summary.built.length !== 0) throw new Error(`the no-op check found ${summary.upToDate.length} of ${SIZE} up to date and built ${summary.built.length}`);
      progress(`no-op check: ${ms(times.at(-1)!)}`);
    }
    console.log(`| ${SIZE} | ${ms(median(times))} (all runs: ${times.map(ms).join(', ')}) | ${machine()}; ${loadNote()} |`);
  } finally {
    const own = await engine.images.list(`berth.project=${project}`);
    for (const image of own.filter((i) => i.tags.length > 0)) for (const t of image.tags) await engine.images.remove(t).catch(() => {});
    for (const image of await engine.images.list(`berth.project=${project}`)) await engine.images.remove(image.id).catch(() => {});
    for (const root of await engine.images.list(ROOTFS_LABEL)) if (root.labels['berth.rootfs.source']?.startsWith(`${dir}/`)) await engine.images.remove(root.id).catch(() => {});
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
