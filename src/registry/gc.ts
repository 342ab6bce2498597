/**
 * `berth registry gc`: the maintenance sequence.
 *
 *   plan (reference database) → read protected manifests → delete expired
 *   manifests by digest → restart read-only → registry GC dry-run, abort if a
 *   protected blob would go → registry GC → restart writable → verify
 *
 * The writable restart runs in `finally`, so a failure or an interruption at
 * any step leaves the registry writable (or says exactly how to make it so).
 * Pushes wait while the maintenance marker exists.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Project } from '../config/model.js';
import { KEY_LABEL, prepare } from '../imaging/prepare.js';
import type { Engine } from '../engine/client.js';
import { BerthError, failed, isBerthError, unavailable } from '../errors.js';
import { buildsOf } from '../store/builds.js';
import type { Store } from '../store/db.js';
import { forgetPushes, pushesTo } from '../store/pushes.js';
import { allRefs } from '../store/refs.js';
import { gcViolations, manifestId, parseRegistryGc, planGc, type GcPlan, type ManifestRef, type RegistryGcOutput } from './gc-plan.js';
import { clearMaintenance, readMaintenance, writeMaintenance } from './maintenance.js';
import { diskUsage, registryEnv, registryProgram, registryTarget, registryUp, runningRegistry, type RegistryTarget } from './process.js';
import { applyRetention, type BuildInfo } from './retention.js';
import { redactor, registrySecrets } from './secrets.js';

export interface GcOptions {
  dryRun?: boolean;
  now?: number;
  /** Narrates each step ("deleting 3 manifests…"). */
  onStep?: (text: string) => void;
  /** Stops after the current step; the registry is made writable again. */
  signal?: AbortSignal;
  /** Runs this program instead of docker-registry, to serve and to collect (tests pass a stand-in). */
  registryProgram?: string;
}

export interface GcReport {
  registry: string;
  dryRun: boolean;
  plan: GcPlan;
  deleted: ManifestRef[];
  /** Blobs the registry's collection removed. */
  blobsDeleted: number;
  /** Filesystem storage only (null on S3). */
  sizeBefore: number | null;
  sizeAfter: number | null;
  bytesFreed: number | null;
  verified: { manifests: number; blobs: number; testPush: boolean } | null;
  steps: { step: string; durationMs: number }[];
  durationMs: number;
}

export async function collectGarbage(project: Project, engine: Engine, db: Store, env: NodeJS.ProcessEnv, options: GcOptions = {}): Promise<GcReport> {
  const started = Date.now();
  const say = options.onStep ?? (() => {});
  const target = registryTarget(project, env, { program: options.registryProgram });
  const fs = project.registry.storage.kind === 'filesystem' ? project.registry.storage.path : undefined;
  const report: GcReport = {
    registry: target.address,
    dryRun: options.dryRun ?? false,
    plan: { delete: [], skipped: [], protected: [], gone: [] },
    deleted: [],
    blobsDeleted: 0,
    sizeBefore: null,
    sizeAfter: null,
    bytesFreed: null,
    verified: null,
    steps: [],
    durationMs: 0,
  };
  let currentStep = 'plan';
  let inMaintenance = !(options.dryRun ?? false);
  const step = async <T>(name: string, text: string, work: () => Promise<T>): Promise<T> => {
    if (options.signal?.aborted) throw failed(`garbage collection interrupted before: ${text}`);
    currentStep = name;
    if (inMaintenance) writeMaintenance(target.paths.maintenance, name, started);
    say(text);
    const t0 = Date.now();
    const result = await work();
    report.steps.push({ step: name, durationMs: Date.now() - t0 });
    return result;
  };

  if (!runningRegistry(target.paths)) {
    throw unavailable(`the registry of ${project.name} is not running; garbage collection needs it`, { fix: 'start it with "berth registry up", then run "berth registry gc" again' });
  }
  const other = readMaintenance(target.paths.maintenance);
  if (other && !other.interrupted && other.pid !== process.pid) {
    throw failed(`another "berth registry gc" (pid ${other.pid}) is running: ${other.step}`, { fix: 'wait for it to finish' });
  }
  await target.client.ping();

  if (report.dryRun) {
    report.plan = await step('plan', 'computing what to delete from Berth\'s reference database', () => computePlan(project, engine, db, target, options.now ?? Date.now()));
    report.durationMs = Date.now() - started;
    return report;
  }

  try {
    report.plan = await step('plan', 'computing what to delete from Berth\'s reference database', () => computePlan(project, engine, db, target, options.now ?? Date.now()));
    const kept = await step('read', `reading ${report.plan.protected.filter((p) => p.present).length} protected manifests`, () => protectedBlobs(target, report.plan));
    report.sizeBefore = fs ? diskUsage(fs) : null;
    await step('delete', `deleting ${report.plan.delete.length} expired manifests by digest`, async () => {
      for (const m of report.plan.delete) {
        await target.client.deleteManifest(m.repository, m.digest);
        await forgetPushes(db, target.address, m.repository, m.digest);
        report.deleted.push({ repository: m.repository, digest: m.digest });
      }
      for (const m of report.plan.gone) await forgetPushes(db, target.address, m.repository, m.digest);
    });
    await step('read-only', 'restarting the registry read-only', () => registryUp(target, { readOnly: true }));
    const dry = await step('gc-dry-run', "running the registry's garbage collection as a dry run", () => runRegistryGc(target, true));
    const violations = gcViolations(kept, dry);
    if (violations.length > 0) {
      throw failed(`garbage collection aborted: the registry's collection would delete what Berth protects; nothing was collected`, {
        lines: violations.slice(0, 20),
        fix: 'report this with the lines above; the expired manifests were deleted, no blob was',
      });
    }
    const real = await step('gc', `collecting ${dry.eligible.size} unreferenced blobs`, () => runRegistryGc(target, false));
    report.blobsDeleted = real.eligible.size;
  } finally {
    await restoreWritable(target, say, currentStep);
    inMaintenance = false;
  }

  report.sizeAfter = fs ? diskUsage(fs) : null;
  report.bytesFreed = report.sizeBefore !== null && report.sizeAfter !== null ? Math.max(0, report.sizeBefore - report.sizeAfter) : null;
  report.verified = await step('verify', 'verifying every protected manifest and blob, and a test push', () => verify(target, report.plan));
  report.durationMs = Date.now() - started;
  return report;
}

/** Gathers the reference database and what the registry holds, and plans. */
async function computePlan(project: Project, engine: Engine, db: Store, target: RegistryTarget, now: number): Promise<GcPlan> {
  const pushes = await pushesTo(db, target.address);
  const refs = await allRefs(db);
  const images = [...new Set(pushes.map((p) => p.image))];
  const builds: BuildInfo[] = (await Promise.all(images.map((image) => buildsOf(db, image)))).flat().map((b) => ({ image: b.image, key: b.key, builtAt: b.builtAt }));
  const prepared = await prepare(project, engine, db);
  const current = new Map([...prepared.current.entries()].map(([name, image]) => [name, image.labels[KEY_LABEL]!]));
  // A current build made with another store has no record here: the engine's creation time stands in.
  for (const [name, image] of prepared.current) {
    const key = current.get(name)!;
    if (!builds.some((b) => b.image === name && b.key === key)) builds.push({ image: name, key, builtAt: image.created * 1000 });
  }
  const retention = applyRetention({ builds, current, settings: project.retention, now });

  const manifests = new Map<string, ManifestRef>();
  for (const m of [...pushes, ...refs]) manifests.set(manifestId(m), { repository: m.repository, digest: m.digest });
  const present = new Set<string>();
  await inBatches([...manifests.values()], 8, async (m) => {
    if ((await target.client.manifestDigest(m.repository, m.digest)) !== undefined) present.add(manifestId(m));
  });
  const tags = new Map<string, Map<string, string>>();
  for (const repository of new Set([...manifests.values()].map((m) => m.repository))) {
    const byTag = new Map<string, string>();
    await inBatches(await target.client.tags(repository), 8, async (tag) => {
      const d = await target.client.manifestDigest(repository, tag);
      if (d) byTag.set(tag, d.digest);
    });
    tags.set(repository, byTag);
  }
  return planGc({ pushes, retention, refs, present, tags });
}

/** Each protected manifest present in the registry, keyed by digest, with its blobs. */
async function protectedBlobs(target: RegistryTarget, plan: GcPlan): Promise<Map<string, { id: string; blobs: string[] }>> {
  const kept = new Map<string, { id: string; blobs: string[] }>();
  await inBatches(plan.protected.filter((p) => p.present), 8, async (p) => {
    const manifest = await target.client.manifest(p.repository, p.digest);
    if (manifest) kept.set(p.digest, { id: manifestId(p), blobs: manifest.blobs.map((b) => b.digest) });
  });
  return kept;
}

async function runRegistryGc(target: RegistryTarget, dryRun: boolean): Promise<RegistryGcOutput> {
  const redact = redactor(registrySecrets(target.project.registry, target.paths.secret, target.env, target.project));
  const args = ['garbage-collect', ...(dryRun ? ['--dry-run'] : []), target.paths.config];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(registryProgram(target), args, { stdio: ['ignore', 'pipe', 'pipe'], env: registryEnv(target.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  if (code !== 0) {
    const lines = `${stdout}\n${stderr}`.split('\n').map((l) => redact(l.trim())).filter(Boolean).slice(-8);
    throw failed(`the registry's garbage collection${dryRun ? ' (dry run)' : ''} failed (exit ${code})`, { lines, fix: 'see the lines above; the registry is made writable again' });
  }
  return parseRegistryGc(stdout);
}

/** Restarts the registry writable; throws with the exact command when it cannot. */
async function restoreWritable(target: RegistryTarget, say: (text: string) => void, failedStep: string): Promise<void> {
  say('restarting the registry writable');
  try {
    await registryUp(target, { readOnly: false });
  } catch (error) {
    const detail = isBerthError(error) ? error.message : String(error);
    throw new BerthError('unavailable', `garbage collection stopped at "${failedStep}" and could not make the registry writable again: ${detail}`, {
      fix: `run "berth registry up -p ${target.project.file}" to start it writable`,
      cause: error,
    });
  } finally {
    clearMaintenance(target.paths.maintenance);
  }
}

/** HEAD on every protected manifest and each of its blobs, and one small blob upload. */
async function verify(target: RegistryTarget, plan: GcPlan): Promise<{ manifests: number; blobs: number; testPush: boolean }> {
  const missing: string[] = [];
  let manifests = 0;
  let blobs = 0;
  await inBatches(plan.protected.filter((p) => p.present), 8, async (p) => {
    const manifest = await target.client.manifest(p.repository, p.digest);
    if (!manifest) return void missing.push(`manifest ${manifestId(p)}`);
    manifests++;
    for (const blob of manifest.blobs) {
      if ((await target.client.blobSize(p.repository, blob.digest)) === undefined) missing.push(`blob ${blob.digest} of ${manifestId(p)}`);
      else blobs++;
    }
  });
  if (missing.length > 0) {
    throw failed(`after garbage collection the registry misses ${missing.length} protected object(s)`, { lines: missing.slice(0, 20), fix: 'push the affected images again with "berth push" and report this' });
  }
  await target.client.uploadBlob(CHECK_REPOSITORY, Buffer.from(`berth gc check ${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`));
  return { manifests, blobs, testPush: true };
}

/** Where the post-GC test push goes; not counted as one of the project's repositories. */
export const CHECK_REPOSITORY = 'berth-gc/check';

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}
