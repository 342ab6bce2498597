/**
 * Root filesystems: bootstrapped from Debian's packages (mmdebstrap, or
 * debootstrap) or read from a tarball, imported into the engine once and
 * found again by their key, so a second bootstrap is a lookup.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RootSpec } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import { failed, unavailable } from '../errors.js';
import { cachedFileHash, rememberFileHash } from '../store/builds.js';
import type { Store } from '../store/db.js';
import { canonicalJson } from './plan.js';

export const ROOTFS_LABEL = 'berth.rootfs';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'berth');
}

/** "bookworm minbase + 4 packages" or the tarball's path. */
export function describeRoot(root: RootSpec): string {
  return root.kind === 'debian' ? `${root.suite} ${root.variant}${root.packages.length ? ` + ${root.packages.length} packages` : ''}` : root.path;
}

/** Debian roots are keyed by suite, variant, packages and SOURCE_DATE_EPOCH; tarballs by their bytes. */
export async function rootKey(root: RootSpec, sourceDateEpoch: number | undefined, db: Store): Promise<string> {
  const basis =
    root.kind === 'debian'
      ? { kind: 'debian', suite: root.suite, variant: root.variant, packages: root.packages, sourceDateEpoch: sourceDateEpoch ?? null }
      : { kind: 'tarball', sha256: await hashLargeFile(root.path, db) };
  return createHash('sha256').update(canonicalJson(basis)).digest('hex');
}

/** The root's image reference: berth-root/bookworm:<short key>. */
export function rootRef(root: RootSpec, key: string): string {
  return `${root.kind === 'debian' ? `berth-root/${root.suite}` : 'berth-root/tarball'}:${key.slice(0, 12)}`;
}

export interface RootContext {
  engine: Engine;
  env: NodeJS.ProcessEnv;
  sourceDateEpoch?: number | undefined;
  proxy: { http?: string; https?: string; noProxy?: string };
  onLine: (text: string) => void;
}

/** Returns the root's image ID, bootstrapping and importing it only when the engine lacks it. */
export async function ensureRoot(root: RootSpec, key: string, context: RootContext): Promise<{ id: string; ref: string }> {
  const ref = rootRef(root, key);
  const existing = await context.engine.images.inspect(ref);
  if (existing && existing.labels[ROOTFS_LABEL] === key) return { id: existing.id, ref };
  const tarball = root.kind === 'tarball' ? root.path : await bootstrap(root, key, context);
  context.onLine(`importing root filesystem ${describeRoot(root)}`);
  const [repo, tag] = ref.split(':') as [string, string];
  const id = await context.engine.images.importTarball(tarball, repo, tag, { [ROOTFS_LABEL]: key, 'berth.rootfs.source': describeRoot(root) });
  return { id, ref };
}

async function bootstrap(root: Extract<RootSpec, { kind: 'debian' }>, key: string, context: RootContext): Promise<string> {
  const dir = join(cacheDir(context.env), 'rootfs');
  const out = join(dir, `${key}.tar`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const partial = `${out}.${process.pid}.partial`;
  const env = {
    ...process.env,
    ...(context.sourceDateEpoch !== undefined ? { SOURCE_DATE_EPOCH: String(context.sourceDateEpoch) } : {}),
    ...(context.proxy.http ? { http_proxy: context.proxy.http } : {}),
    ...(context.proxy.https ? { https_proxy: context.proxy.https } : {}),
  };
  const include = root.packages.length > 0 ? [`--include=${root.packages.join(',')}`] : [];
  context.onLine(`bootstrapping root filesystem ${describeRoot(root)} from ${root.mirror}`);
  try {
    if (onPath('mmdebstrap')) {
      await runTool('mmdebstrap', [`--variant=${root.variant}`, ...include, '--format=tar', root.suite, partial, root.mirror], env, context.onLine);
    } else if (onPath('debootstrap')) {
      const tree = `${partial}.d`;
      await runTool('debootstrap', [`--variant=${root.variant === 'minbase' ? 'minbase' : 'buildd'}`, ...include, root.suite, tree, root.mirror], env, context.onLine);
      await runTool('tar', ['-C', tree, '-cf', partial, '.'], env, context.onLine);
      rmSync(tree, { recursive: true, force: true });
    } else {
      throw unavailable('neither mmdebstrap nor debootstrap is installed, so Berth cannot bootstrap a Debian root', {
        fix: 'apt-get install mmdebstrap (or run "npm run setup"), or use "root: { tarball: <file> }"',
      });
    }
    renameSync(partial, out);
  } finally {
    rmSync(partial, { force: true });
  }
  return out;
}

/**
 * Runs a bootstrap tool, passing on each line of its stdout and stderr as it
 * completes (a pipe's chunks end anywhere, also inside a line or a character).
 */
export function runTool(command: string, args: string[], env: NodeJS.ProcessEnv, onLine: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const take = (line: string) => {
      if (line === '') return;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      onLine(line);
    };
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', take);
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', take);
    child.on('error', (error) => reject(failed(`could not run ${command}: ${error.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(failed(`${command} failed with exit code ${code}`, { lines: tail, fix: 'check the suite, the package names and that the mirror is reachable' })),
    );
  });
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => existsSync(join(dir, command)));
}

/** SHA-256 of a big file, remembered while its size and mtime stay the same (the mtime never enters a key). */
async function hashLargeFile(path: string, db: Store): Promise<string> {
  const stat = statSync(path);
  const cached = await cachedFileHash(db, path, stat.size, stat.mtimeMs);
  if (cached) return cached;
  const hash = createHash('sha256');
  const handle = openSync(path, 'r');
  const chunk = Buffer.alloc(1 << 20);
  try {
    let read: number;
    while ((read = readSync(handle, chunk, 0, chunk.length, null)) > 0) hash.update(chunk.subarray(0, read));
  } finally {
    closeSync(handle);
  }
  const sha = hash.digest('hex');
  await rememberFileHash(db, path, stat.size, stat.mtimeMs, sha);
  return sha;
}
