/**
 * What `berth apply` uploads: the files of the project folder (berth.yaml, the
 * image folders the loader checks, config files, TLS files it names), as
 * relative path → content. The state directory, version control and
 * dependencies stay behind; a bundle over the limits is refused, naming them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { invalid } from '../errors.js';

/** Relative path → content and whether it is executable (the loader checks static.sh's x bit). */
export type Bundle = Map<string, BundleFile>;

export interface BundleFile {
  content: Buffer;
  executable: boolean;
}

export const BUNDLE_LIMITS = { files: 5000, bytes: 48 * 1024 * 1024 };
const SKIPPED = new Set(['.git', 'node_modules', '.berth']);

export function collectBundle(projectDir: string, stateDir: string): Bundle {
  const bundle: Bundle = new Map();
  let bytes = 0;
  const state = resolve(stateDir);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (SKIPPED.has(entry.name) || resolve(path) === state) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile())) {
        const content = readFileSync(path);
        bytes += content.length;
        bundle.set(relative(projectDir, path).split(sep).join('/'), { content, executable: (statSync(path).mode & 0o111) !== 0 });
        if (bundle.size > BUNDLE_LIMITS.files || bytes > BUNDLE_LIMITS.bytes) {
          throw invalid(`the project folder ${projectDir} is too big to apply (more than ${BUNDLE_LIMITS.files} files or ${BUNDLE_LIMITS.bytes / 1024 / 1024} MiB)`, {
            fix: 'keep build outputs and data out of the folder of berth.yaml (the apply uploads the folder, without .git, node_modules and .berth)',
          });
        }
      }
    }
  };
  walk(projectDir);
  return bundle;
}

/** A relative path that stays inside the folder it is written to. */
export function safeRelativePath(path: string): boolean {
  return path !== '' && !path.startsWith('/') && !path.includes('\0') && !path.includes('\\') && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

/** Path → SHA-256, and one digest of the whole bundle. */
export function bundleDigests(bundle: Bundle): { files: Record<string, string>; digest: string } {
  const files = Object.fromEntries([...bundle.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, f]) => [path, `${sha256(f.content)}${f.executable ? '+x' : ''}`]));
  return { files, digest: createHash('sha256').update(JSON.stringify(files)).digest('hex') };
}

/** The wire form: path → base64 content, and the executable paths. */
export interface WireBundle {
  files: Record<string, string>;
  executable: string[];
}

export function encodeBundle(bundle: Bundle): WireBundle {
  return { files: Object.fromEntries([...bundle].map(([path, f]) => [path, f.content.toString('base64')])), executable: [...bundle].filter(([, f]) => f.executable).map(([path]) => path) };
}

export function decodeBundle(wire: WireBundle): Bundle {
  const bundle: Bundle = new Map();
  const executable = new Set(wire.executable);
  for (const [path, content] of Object.entries(wire.files)) {
    if (!safeRelativePath(path)) throw invalid(`the bundle names the path "${path}", which is not a relative path inside the project`, { fix: 'apply with the berth CLI, which sends the project folder as it is' });
    bundle.set(path, { content: Buffer.from(content, 'base64'), executable: executable.has(path) });
  }
  if (!bundle.has('berth.yaml')) throw invalid('the bundle has no berth.yaml', { fix: 'run berth apply in the folder of berth.yaml, or pass -p <path>' });
  return bundle;
}

/** Every secret reference ({ env } or { file }) anywhere in a loaded project. */
export function secretRefs(project: unknown): { env?: string; file?: string }[] {
  const found: { env?: string; file?: string }[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown) => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Map) return value.forEach(walk);
    const keys = Object.keys(value);
    const ref = value as { env?: unknown; file?: unknown };
    if (keys.length > 0 && keys.every((k) => k === 'file' || k === 'env') && (typeof ref.file === 'string' || typeof ref.env === 'string')) {
      found.push({ ...(typeof ref.env === 'string' ? { env: ref.env } : {}), ...(typeof ref.file === 'string' ? { file: ref.file } : {}) });
    }
    for (const v of Object.values(value)) walk(v);
  };
  walk(project);
  return found;
}

/** Files a secret reference names (`file:`): they stay on this machine; a server gets secrets with `berth secret set`. */
export function secretFiles(project: unknown): Set<string> {
  return new Set(secretRefs(project).flatMap((r) => (r.file !== undefined ? [resolve(r.file)] : [])));
}
