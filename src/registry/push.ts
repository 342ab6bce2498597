/**
 * `berth push`: pushes the current builds of the hierarchy, parents first and
 * siblings in parallel, so a child uploads only its own layers. An image whose
 * recorded digest the registry still serves under its tag is skipped without
 * asking the engine: a re-push of an unchanged tree uploads nothing.
 *
 * A push the registry refuses for a while (read-only during GC, restarting,
 * gone) is retried with backoff until `retryForMs`, then fails clearly. A push
 * is recorded only after the registry answers for its digest.
 */
import type { Project } from '../config/model.js';
import { planBuild } from '../imaging/plan.js';
import { KEY_LABEL, prepare } from '../imaging/prepare.js';
import { Semaphore } from '../imaging/semaphore.js';
import type { Engine } from '../engine/client.js';
import type { EngineImage, RegistryAuth } from '../engine/images.js';
import { isBerthError, notFound, unavailable, type BerthError } from '../errors.js';
import type { Store } from '../store/db.js';
import { lastPush, recordPush } from '../store/pushes.js';
import { sleep } from '../time.js';
import { readMaintenance } from './maintenance.js';
import { registryTarget, runningRegistry, type RegistryTarget } from './process.js';
import { registryPassword } from './secrets.js';

export type PushEvent =
  | { type: 'plan'; images: { name: string; ref: string }[] }
  | { type: 'skip'; image: string; ref: string; digest: string }
  | { type: 'start'; image: string; ref: string }
  | { type: 'progress'; image: string; layer: string; status: string; current?: number; total?: number }
  | { type: 'wait'; image: string; reason: string; delayMs: number }
  | { type: 'done'; image: string; pushed: PushedImage }
  | { type: 'fail'; image: string; error: BerthError }
  | { type: 'blocked'; image: string; because: string };

export interface PushOptions {
  /** Images to push (with their ancestors); all when empty. */
  only?: readonly string[];
  concurrency?: number;
  /** How long a push keeps retrying while the registry refuses or is away. */
  retryForMs?: number;
  onEvent?: (event: PushEvent) => void;
}

export interface PushedImage {
  name: string;
  /** host:port/berth/<name>:<key12> */
  ref: string;
  repository: string;
  tag: string;
  digest: string;
  imageId: string;
  key: string;
  /** Layers uploaded and layers the registry had already. */
  uploaded: number;
  existing: number;
  uploadedBytes: number;
  durationMs: number;
}

export interface PushSummary {
  registry: string;
  pushed: PushedImage[];
  upToDate: PushedImage[];
  failed: { image: string; message: string; fix: string | null }[];
  blocked: { image: string; because: string }[];
  durationMs: number;
}

export const DEFAULT_RETRY_MS = 300_000;

export const repositoryOf = (image: string) => `berth/${image}`;

export async function pushProject(project: Project, engine: Engine, db: Store, env: NodeJS.ProcessEnv, options: PushOptions = {}): Promise<PushSummary> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const target = registryTarget(project, env);
  const prepared = await prepare(project, engine, db, options.only);
  requireBuilt(prepared);
  await checkReachable(target);

  const auth: RegistryAuth = { serveraddress: target.address, ...(project.registry.username !== undefined ? { username: project.registry.username, password: registryPassword(project.registry, env, project) ?? '' } : {}) };
  const retryForMs = options.retryForMs ?? DEFAULT_RETRY_MS;
  const summary: PushSummary = { registry: target.address, pushed: [], upToDate: [], failed: [], blocked: [], durationMs: 0 };
  const refOf = (name: string) => `${target.address}/${repositoryOf(name)}:${prepared.current.get(name)!.labels[KEY_LABEL]!.slice(0, 12)}`;
  emit({ type: 'plan', images: prepared.images.map((i) => ({ name: i.name, ref: refOf(i.name) })) });

  const semaphore = new Semaphore(options.concurrency ?? 2);
  const outcomes = new Map<string, Promise<boolean>>();
  const pushOne = async (name: string, parentOk: boolean | undefined, parent: string | undefined): Promise<boolean> => {
    if (parentOk === false) {
      summary.blocked.push({ image: name, because: parent! });
      emit({ type: 'blocked', image: name, because: parent! });
      return false;
    }
    return semaphore.run(async () => {
      try {
        const image = prepared.current.get(name)!;
        const deadline = Date.now() + retryForMs;
        const skipped = await retrying(target, name, deadline, emit, () => alreadyPushed(target, db, name, image));
        if (skipped) {
          summary.upToDate.push(skipped);
          emit({ type: 'skip', image: name, ref: skipped.ref, digest: skipped.digest });
          return true;
        }
        emit({ type: 'start', image: name, ref: refOf(name) });
        const pushed = await retrying(target, name, deadline, emit, () => pushImage(target, engine, db, auth, name, image, emit));
        summary.pushed.push(pushed);
        emit({ type: 'done', image: name, pushed });
        return true;
      } catch (error) {
        const e = isBerthError(error) ? error : unavailable(String(error));
        summary.failed.push({ image: name, message: e.message, fix: e.fix ?? null });
        emit({ type: 'fail', image: name, error: e });
        return false;
      }
    });
  };
  for (const image of prepared.images) {
    const parent = image.parent === undefined ? Promise.resolve(undefined) : outcomes.get(image.parent)!;
    outcomes.set(image.name, parent.then((ok) => pushOne(image.name, ok, image.parent)));
  }
  await Promise.all(outcomes.values());
  summary.durationMs = Date.now() - started;
  return summary;
}

/** Every image to push must have its current build in the engine; all missing ones are named at once. */
function requireBuilt(prepared: Awaited<ReturnType<typeof prepare>>): void {
  const missing = prepared.images.filter((i) => !prepared.current.has(i.name));
  if (missing.length === 0) return;
  const plan = new Map(planBuild(prepared.images, prepared.state).map((e) => [e.name, e]));
  const names = missing.map((i) => i.name);
  throw notFound(`not built: ${names.join(', ')} (Berth pushes only the current build of each image)`, {
    lines: missing.map((i) => `${i.name}: ${prepared.state.last.has(i.name) ? `stale, ${plan.get(i.name)?.reason ?? 'inputs changed'}` : 'never built'}`),
    fix: `run "berth build ${names.join(' ')}", then push again`,
  });
}

async function checkReachable(target: RegistryTarget): Promise<void> {
  if (readMaintenance(target.paths.maintenance)?.interrupted === false) return; // GC restarts it: pushes wait below.
  try {
    await target.client.ping();
  } catch (error) {
    if (isBerthError(error) && error.kind === 'unavailable' && !runningRegistry(target.paths)) {
      throw unavailable(`the registry at ${target.address} is not running`, { fix: 'start it with "berth registry up", then push again', cause: error });
    }
    throw error;
  }
}

/** The recorded push, when the registry still serves that digest under the tag for this very image. */
async function alreadyPushed(target: RegistryTarget, db: Store, name: string, image: EngineImage): Promise<PushedImage | undefined> {
  const key = image.labels[KEY_LABEL]!;
  const repository = repositoryOf(name);
  const tag = key.slice(0, 12);
  const last = await lastPush(db, target.address, repository, tag);
  if (!last || last.imageId !== image.id) return undefined;
  const now = await target.client.manifestDigest(repository, tag);
  if (now?.digest !== last.digest) return undefined;
  return { name, ref: `${target.address}/${repository}:${tag}`, repository, tag, digest: last.digest, imageId: image.id, key, uploaded: 0, existing: 0, uploadedBytes: 0, durationMs: 0 };
}

async function pushImage(target: RegistryTarget, engine: Engine, db: Store, auth: RegistryAuth, name: string, image: EngineImage, emit: (e: PushEvent) => void): Promise<PushedImage> {
  const t0 = Date.now();
  const key = image.labels[KEY_LABEL]!;
  const repository = repositoryOf(name);
  const tag = key.slice(0, 12);
  const remote = `${target.address}/${repository}`;
  const sizes = new Map<string, number>();
  await engine.images.tag(image.id, remote, tag);
  try {
    const result = await engine.images.push(remote, tag, auth, (p) => {
      if (p.total !== undefined) sizes.set(p.layer, p.total);
      emit({ type: 'progress', image: name, ...p });
    });
    // Recorded only once the registry answers for the digest.
    const there = await target.client.manifestDigest(repository, result.digest);
    if (there?.digest !== result.digest) throw unavailable(`the registry at ${target.address} does not have ${repository}@${result.digest} right after the engine pushed it`);
    await recordPush(db, { registry: target.address, repository, tag, digest: result.digest, image: name, key, imageId: image.id, size: result.size, pushedAt: Date.now() });
    return {
      name,
      ref: `${remote}:${tag}`,
      repository,
      tag,
      digest: result.digest,
      imageId: image.id,
      key,
      uploaded: result.uploaded.length,
      existing: result.existing.length,
      uploadedBytes: result.uploaded.reduce((sum, layer) => sum + (sizes.get(layer) ?? 0), 0),
      durationMs: Date.now() - t0,
    };
  } finally {
    // The registry tag was only the engine's way to name the push; Berth's own tag stays.
    await engine.images.remove(`${remote}:${tag}`).catch(() => {});
  }
}

/** What the engine or the registry say when the registry is read-only, restarting or gone. */
const RETRYABLE = /not answering|read-only|unhealthy|HTTP 405|method not allowed|connection refused|connection reset|broken pipe|\bEOF\b|503 Service|502 Bad|i\/o timeout|does not have .* right after/i;

export function isRetryable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return RETRYABLE.test(message) && !message.includes('Docker Engine');
}

/** Runs one step, waiting while GC maintenance runs and retrying retryable refusals with backoff until the deadline. */
async function retrying<T>(target: RegistryTarget, image: string, deadline: number, emit: (e: PushEvent) => void, step: () => Promise<T>): Promise<T> {
  let delay = 500;
  let waitedForMaintenance = false;
  for (;;) {
    const maintenance = readMaintenance(target.paths.maintenance);
    if (maintenance && !maintenance.interrupted && Date.now() < deadline) {
      if (!waitedForMaintenance) emit({ type: 'wait', image, reason: `the registry is in maintenance (berth registry gc: ${maintenance.step})`, delayMs: 250 });
      waitedForMaintenance = true;
      await sleep(250);
      continue;
    }
    try {
      return await step();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (Date.now() + delay > deadline) {
        const interrupted = readMaintenance(target.paths.maintenance)?.interrupted;
        throw unavailable(`gave up pushing ${image}: the registry at ${target.address} kept refusing or was away: ${message}`, {
          fix: interrupted
            ? 'a "berth registry gc" was interrupted and left the registry read-only: run "berth registry up" to make it writable, then push again'
            : 'check "berth registry status" (run "berth registry up" if it is down or read-only), then push again',
          cause: error,
        });
      }
      emit({ type: 'wait', image, reason: message, delayMs: delay });
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  }
}
