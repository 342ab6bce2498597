/**
 * The build executor: walks the tree parents-first, siblings in parallel up to
 * the concurrency limit, and applies each image's decision through the engine.
 * A failure skips only that image's descendants.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { BuildLine } from '../engine/images.js';
import { failed, isBerthError } from '../errors.js';
import { recordBuild } from '../store/builds.js';
import type { Store } from '../store/db.js';
import { packContext, packFiles } from './context.js';
import { ImageBuildError, OutputTracker, type BuildFailure } from './failure.js';
import { decide, inputsOf, planBuild, type PlanEntry } from './plan.js';
import { prepare, type PreparedImage } from './prepare.js';
import { containerRecipeFor, imageTag, recipeFor, type RecipeInput } from './recipe.js';
import { ensureRoot } from './rootfs.js';
import { Semaphore } from './semaphore.js';

export type BuildEvent =
  | { type: 'plan'; entries: PlanEntry[] }
  | { type: 'start'; image: string; reason: string }
  | { type: 'line'; image: string; text: string }
  | { type: 'skip'; image: string; reason: string }
  | { type: 'done'; image: string; imageId: string; tag: string; durationMs: number }
  | { type: 'fail'; image: string; failure: BuildFailure }
  | { type: 'blocked'; image: string; because: string };

/**
 * How an image is made: in one container (create from the parent, upload, run static.sh,
 * commit once; the default), or through the engine's classic builder from a Dockerfile (a
 * container per instruction; kept to compare the two).
 */
export type BuildMethod = 'container' | 'dockerfile';

export interface BuildOptions {
  only?: readonly string[];
  method?: BuildMethod;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: BuildEvent) => void;
}

export interface BuiltImage {
  name: string;
  imageId: string;
  tag: string;
  key: string;
}

export interface BuildSummary {
  built: BuiltImage[];
  upToDate: BuiltImage[];
  failed: BuildFailure[];
  blocked: { image: string; because: string }[];
  durationMs: number;
}

type Outcome = { ok: true; imageId: string; ref: string } | { ok: false; failedImage: string };

/** What `berth build --plan` shows: nothing is built. */
export async function planProject(project: Project, engine: Engine, db: Store, only: readonly string[] = []): Promise<PlanEntry[]> {
  const prepared = await prepare(project, engine, db, only);
  return planBuild(prepared.images, prepared.state);
}

export async function buildProject(project: Project, engine: Engine, db: Store, options: BuildOptions = {}): Promise<BuildSummary> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const prepared = await prepare(project, engine, db, options.only);
  emit({ type: 'plan', entries: planBuild(prepared.images, prepared.state) });

  const summary: BuildSummary = { built: [], upToDate: [], failed: [], blocked: [], durationMs: 0 };
  const semaphore = new Semaphore(options.concurrency ?? project.build.concurrency);
  const outcomes = new Map<string, Promise<Outcome>>();
  const revision = lazy(() => gitRevision(project.dir));

  const buildOne = async (image: PreparedImage, parent: Outcome | undefined): Promise<Outcome> => {
    if (parent && !parent.ok) {
      const because = parent.failedImage;
      summary.blocked.push({ image: image.name, because });
      emit({ type: 'blocked', image: image.name, because });
      return parent;
    }
    return semaphore.run(async () => {
      const lineOf = (text: string) => emit({ type: 'line', image: image.name, text });
      try {
        const base = image.spec.root
          ? await ensureRoot(image.spec.root, image.rootKey!, { engine, env: options.env ?? process.env, sourceDateEpoch: project.build.sourceDateEpoch, proxy: project.build.proxy, onLine: lineOf })
          : { id: (parent as Extract<Outcome, { ok: true }>).imageId, ref: (parent as Extract<Outcome, { ok: true }>).ref };
        const decision = decide(image, base.id, prepared.state);
        const tag = imageTag(image.name, decision.key!);
        if (decision.action === 'skip') {
          summary.upToDate.push({ name: image.name, imageId: decision.imageId!, tag, key: decision.key! });
          emit({ type: 'skip', image: image.name, reason: decision.reason });
          return { ok: true, imageId: decision.imageId!, ref: tag };
        }
        emit({ type: 'start', image: image.name, reason: decision.reason });
        const built = await buildImage(image, decision.key!, base, lineOf);
        summary.built.push({ name: image.name, imageId: built.imageId, tag, key: decision.key! });
        emit({ type: 'done', image: image.name, imageId: built.imageId, tag, durationMs: built.durationMs });
        return { ok: true, imageId: built.imageId, ref: tag };
      } catch (error) {
        const failure = toFailure(image, error);
        summary.failed.push(failure);
        emit({ type: 'fail', image: image.name, failure });
        return { ok: false, failedImage: image.name };
      }
    });
  };

  const buildImage = async (image: PreparedImage, key: string, base: { id: string; ref: string }, onLine: (text: string) => void) => {
    const t0 = Date.now();
    const input: RecipeInput = {
      spec: image.spec,
      files: image.sources,
      key,
      parentRef: base.id,
      baseName: base.ref,
      depth: image.depth,
      mirror: project.build.mirror,
      proxy: project.build.proxy,
      project: project.name,
      created: new Date().toISOString(),
      ...(revision() ? { revision: revision()! } : {}),
    };
    const tracker = new OutputTracker();
    const redact = redactor(project);
    const take = (line: BuildLine) => {
      const shown = tracker.take({ ...line, text: redact(line.text) });
      if (shown !== undefined && line.kind === 'output') onLine(shown);
    };
    try {
      const imageId = await makeImage(input, base.id, take);
      const durationMs = Date.now() - t0;
      await recordBuild(db, { image: image.name, key, imageId, parentId: base.id, inputs: inputsOf(image, base.id), builtAt: Date.now(), durationMs });
      return { imageId, durationMs };
    } catch (error) {
      const message = isBerthError(error) && error.kind === 'failed' ? error.message : undefined;
      if (message === undefined) throw error;
      throw new ImageBuildError(tracker.failure(image.name, message, readFileSync(join(image.spec.dir, 'static.sh'), 'utf8')));
    }
  };

  const makeImage = async (input: RecipeInput, parentId: string, take: (line: BuildLine) => void): Promise<string> => {
    if (options.method === 'dockerfile') {
      const recipe = recipeFor(input);
      return engine.images.build(packContext(recipe), recipe, take);
    }
    const parent = await engine.images.config(parentId);
    if (!parent) throw failed(`${input.spec.name}: the engine no longer has the image it is built on (${input.baseName})`, { fix: 'run "berth build" again' });
    const { entries, ...recipe } = containerRecipeFor(input, parent);
    return engine.images.buildInContainer({ ...recipe, files: await packFiles(entries) }, take);
  };

  for (const image of prepared.images) {
    const parentOutcome = image.parent === undefined ? Promise.resolve(undefined) : outcomes.get(image.parent)!;
    outcomes.set(image.name, parentOutcome.then((p) => buildOne(image, p)));
  }
  await Promise.all(outcomes.values());
  summary.durationMs = Date.now() - started;
  return summary;
}

function toFailure(image: PreparedImage, error: unknown): BuildFailure {
  if (error instanceof ImageBuildError) return error.failure;
  const message = error instanceof Error ? error.message : String(error);
  return { image: image.name, message: `${image.name}: ${message}`, tail: isBerthError(error) ? error.lines : [] };
}

/** Proxy URLs may carry credentials: they never reach the output. */
function redactor(project: Project): (text: string) => string {
  const secrets = Object.values(project.build.proxy).filter((v): v is string => typeof v === 'string' && v.length > 0);
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}

function gitRevision(dir: string): string | undefined {
  const result = spawnSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function lazy<T>(compute: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: compute() }).v;
}
