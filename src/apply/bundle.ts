/**
 * What `berth apply` uploads: the files of the project folder (berth.yaml, the
 * image folders the loader checks, config files, TLS files it names), as
 * relative path → content. The state directory, version control and
 * dependencies stay behind; a bundle over the limits is refused, naming them.
 * A symbolic link to a file inside the folder is uploaded as a copy of that
 * file's content; one that leaves the folder is refused, and what it points
 * to is never read; a link to a folder is not followed.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { realPath } from '../config/readable-files.js';
import { invalid } from '../errors.js';

/** Relative path → content and whether it is executable (the loader checks static.sh's x bit). */
export type Bundle = Map<string, BundleFile>;

export interface BundleFile {
  content: Buffer;
  executable: boolean;
}

/** What a bundle may hold: files, bytes, folders deep, bytes of one path component and of a whole path (the server writes it to disk). */
export const BUNDLE_LIMITS = { files: 5000, bytes: 48 * 1024 * 1024, depth: 32, nameBytes: 255, pathBytes: 1024 };
const SKIPPED = new Set(['.git', 'node_modules', '.berth']);

/** `leave`: paths relative to the project folder that are not read nor uploaded (the files secrets are read from). */
export function collectBundle(projectDir: string, stateDir: string, leave: ReadonlySet<string> = new Set()): Bundle {
  const bundle: Bundle = new Map();
  let bytes = 0;
  const state = resolve(stateDir);
  const root = realPath(projectDir);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (SKIPPED.has(entry.name) || resolve(path) === state || leave.has(relative(projectDir, path).split(sep).join('/'))) continue;
      if (entry.isSymbolicLink() && !linkStaysInside(path, root)) continue;
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

/**
 * Whether to follow a link in the project folder: true when it points to
 * something inside (an upload of its content), false when to nothing; a link
 * out of the folder is refused, naming it and its target.
 */
function linkStaysInside(link: string, root: string): boolean {
  const target = resolve(dirname(link), readlinkSync(link));
  const real = realPath(target);
  if (real !== root && !real.startsWith(`${root}${sep}`)) {
    throw invalid(`${link} is a symbolic link to ${target}${real === target ? '' : ` (really ${real})`}, outside the project folder ${root}: berth apply uploads only the project folder`, {
      fix: `copy the file into the project folder instead of linking to it (or remove the link); a secret's file stays here: name it in secrets: { NAME: { file: … } } and set it on the server with berth secret set`,
    });
  }
  try {
    lstatSync(real);
    return true;
  } catch {
    return false; // a dangling link: nothing to upload
  }
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
  const paths = Object.keys(wire.files);
  // Checked before anything is written: a path the file system cannot take is the sender's mistake, not the server's.
  if (paths.length > BUNDLE_LIMITS.files) throw invalid(`the bundle has ${paths.length} files, more than the limit of ${BUNDLE_LIMITS.files}`, { fix: BUNDLE_FIX });
  for (const path of paths) {
    const over = overLimit(path);
    if (over) throw invalid(`the bundle names the path "${shorten(path)}": ${over}`, { fix: BUNDLE_FIX });
  }
  for (const [path, content] of Object.entries(wire.files)) {
    if (!safeRelativePath(path)) throw invalid(`the bundle names the path "${path}", which is not a relative path inside the project`, { fix: 'apply with the berth CLI, which sends the project folder as it is' });
    bundle.set(path, { content: Buffer.from(content, 'base64'), executable: executable.has(path) });
  }
  if (!bundle.has('berth.yaml')) throw invalid('the bundle has no berth.yaml', { fix: 'run berth apply in the folder of berth.yaml, or pass -p <path>' });
  return bundle;
}

const BUNDLE_FIX = 'keep the project folder within the limits (docs/server.md, berth apply); data and build outputs belong outside it';

/** Which limit of BUNDLE_LIMITS a path goes over, in words; undefined when none. */
function overLimit(path: string): string | undefined {
  const parts = path.split('/');
  if (Buffer.byteLength(path) > BUNDLE_LIMITS.pathBytes) return `${Buffer.byteLength(path)} bytes long, more than the limit of ${BUNDLE_LIMITS.pathBytes} for a path`;
  if (parts.length - 1 > BUNDLE_LIMITS.depth) return `${parts.length - 1} folders deep, more than the limit of ${BUNDLE_LIMITS.depth}`;
  const long = parts.find((part) => Buffer.byteLength(part) > BUNDLE_LIMITS.nameBytes);
  if (long !== undefined) return `a name of ${Buffer.byteLength(long)} bytes, more than the limit of ${BUNDLE_LIMITS.nameBytes} for a file or folder name`;
  return undefined;
}

/** A path as shown in a message: a hostile one may be long. */
const shorten = (path: string) => (path.length > 120 ? `${path.slice(0, 100)}…(${path.length} characters)` : path);

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
