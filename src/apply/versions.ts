/**
 * The server side of `berth apply`: a bundle is written to a staging folder,
 * loaded with the same loader as the CLI (so a bad file is refused with its
 * file, line and key, and nothing is applied), diffed against the version
 * before, and on success renamed to config/v<N> and recorded.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import type { Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import { conflict, forbidden, invalid, unavailable, type BerthError } from '../errors.js';
import type { Store } from '../store/db.js';
import { configBundle, insertConfig, latestConfig, listConfigs, saveConfigBundle, type ConfigVersion } from '../store/configs.js';
import { bundleDigests, decodeBundle, encodeBundle, secretRefs, type Bundle, type WireBundle } from './bundle.js';
import { diffBundles, type ConfigDiff } from './diff.js';

export const configRoot = (stateDir: string) => join(stateDir, 'config');
export const versionDir = (stateDir: string, version: number) => join(configRoot(stateDir), `v${version}`);

export interface ApplyOutcome {
  /** The version now applied (or that would be, with dryRun). */
  version: number;
  project: string;
  applied: boolean;
  dryRun: boolean;
  diff: ConfigDiff;
}

export function readBundle(dir: string): Bundle {
  const bundle: Bundle = new Map();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else bundle.set(relative(dir, path).split(sep).join('/'), { content: readFileSync(path), executable: (statSync(path).mode & 0o111) !== 0 });
    }
  };
  walk(dir);
  return bundle;
}

function writeBundle(dir: string, bundle: Bundle): void {
  for (const [path, f] of bundle) {
    const file = join(dir, ...path.split('/'));
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, f.content, { mode: f.executable ? 0o700 : 0o600 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw invalid(`the bundle names "${path}" both as a file and as a folder`, { fix: 'apply with the berth CLI, which sends the project folder as it is' });
      throw cannotWrite(dir, error);
    }
  }
}

export interface ApplyOptions {
  actor: string;
  dryRun: boolean;
  /** Folders the server's operator allowed the configuration to read (`berth server --allow-read`), besides its own files. */
  allowRead?: readonly string[];
}

export async function applyBundle(db: Store, stateDir: string, env: NodeJS.ProcessEnv, bundle: Bundle, options: ApplyOptions): Promise<ApplyOutcome & { loaded?: Project }> {
  const staging = join(configRoot(stateDir), `.staging-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(staging, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw cannotWrite(staging, error);
  }
  try {
    writeBundle(staging, bundle);
    const project = loadProject(staging, { ...env, BERTH_STATE_DIR: stateDir }, staging, { readable: { allowed: options.allowRead ?? [], stateDir } });
    refuseServerVariables(project);
    const latest = await latestConfig(db);
    if (latest && latest.project !== project.name) {
      throw conflict(`this server runs project "${latest.project}"; the configuration applied is project "${project.name}"`, { fix: `apply it to a server of its own (berth server --state <another folder>), or rename "project:" in berth.yaml to ${latest.project}` });
    }
    if (latest) await ensureVersionDir(db, stateDir, latest.version);
    const diff = diffBundles(latest ? readBundle(versionDir(stateDir, latest.version)) : new Map(), bundle);
    const { files, digest } = bundleDigests(bundle);
    if (options.dryRun || (latest && latest.digest === digest)) {
      return { version: latest && latest.digest === digest ? latest.version : (latest?.version ?? 0) + 1, project: project.name, applied: false, dryRun: options.dryRun, diff };
    }
    const next = (latest?.version ?? 0) + 1;
    renameSync(staging, versionDir(stateDir, next));
    const recorded: ConfigVersion = await insertConfig(db, { project: project.name, digest, files, actor: options.actor });
    await saveConfigBundle(db, recorded.version, Buffer.from(JSON.stringify(encodeBundle(bundle))));
    return { version: recorded.version, project: project.name, applied: true, dryRun: false, diff };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Makes config/v<N> from the store when this server's state folder lacks it: another server of the
 * store applied it (or this one took over from it). One applied before the store kept the files
 * (an older Berth) cannot be made: a clear error, not a server that silently runs another configuration.
 */
export async function ensureVersionDir(db: Store, stateDir: string, version: number): Promise<void> {
  const dir = versionDir(stateDir, version);
  if (existsSync(dir)) return;
  const kept = await configBundle(db, version);
  if (!kept) {
    throw unavailable(`configuration version ${version} is not in ${dir}, and the store does not keep its files (it was applied by an older Berth)`, {
      fix: `copy ${dir} from the server that applied it, or apply the configuration again (berth apply)`,
    });
  }
  const staging = join(configRoot(stateDir), `.staging-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    writeBundle(staging, decodeBundle(JSON.parse(Buffer.from(kept).toString('utf8')) as WireBundle));
    renameSync(staging, dir);
  } catch (error) {
    // Another request made it meanwhile: that one is the same files.
    if (existsSync(dir)) return;
    throw cannotWrite(dir, error);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The server's disk refused a write (full, read-only, no rights): not the sender's mistake, nor a bug. */
function cannotWrite(dir: string, error: unknown): BerthError {
  return unavailable(`cannot write the configuration into ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { fix: "make the server's state folder writable by its user, with space left", cause: error });
}

/**
 * A configuration may not read the server's own variables of Berth
 * (BERTH_SECRET_KEY, …) into an instance; what it may read of the server's
 * files is decided at load (config/readable-files.ts). An admin of the API is
 * not root on the server.
 */
function refuseServerVariables(project: Project): void {
  for (const ref of secretRefs(project)) {
    if (ref.env?.startsWith('BERTH_')) throw forbidden(`a secret of this configuration reads the server's variable ${ref.env}`, { fix: 'store the value with berth secret set (secrets: { NAME: stored }), or read it from a variable that is not Berth\'s own' });
  }
}

/** The versions applied, newest first, as the API lists them (the files counted, not shown). */
export async function appliedVersions(db: Store) {
  return (await listConfigs(db)).map((v) => ({ version: v.version, project: v.project, digest: v.digest, actor: v.actor, appliedAt: new Date(v.appliedAt).toISOString(), files: Object.keys(v.files).length }));
}
