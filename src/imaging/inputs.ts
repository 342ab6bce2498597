/**
 * Reads what an image is made of: its folder's files (bytes and modes, never
 * mtimes) and the app files of a business image.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import type { ImageSettings, ImageSpec } from '../config/model.js';

export interface SourceFile {
  /** Path inside the image folder (or "app/..." for app files), with forward slashes. */
  rel: string;
  abs: string;
  /** 0o755 for executables and folders-with-x, 0o644 otherwise; only the x bit is kept, as git does. */
  mode: number;
  sha256: string;
  symlink?: string;
}

/** Settings files are hashed as settings, not as bytes, so comments and spacing do not rebuild. */
const SETTINGS_FILE = 'image.yaml';

/** App files are listed under this prefix, which no file of an image folder can have. */
export const APP_PREFIX = '@app';

export function scanImageFiles(spec: ImageSpec): SourceFile[] {
  const files = walk(spec.dir, spec.dir).filter((f) => f.rel !== SETTINGS_FILE);
  if (spec.app) {
    for (const file of walk(spec.app.path, spec.app.path)) files.push({ ...file, rel: posix.join(APP_PREFIX, file.rel || basenameOf(spec.app.path)) });
  }
  return files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** The settings that change the image, without absolute paths (the checkout may move). */
export function canonicalSettings(spec: ImageSpec): ImageSettings {
  const settings: ImageSettings = {
    env: sortKeys(spec.env),
    labels: sortKeys(spec.labels),
    ports: [...spec.ports],
  };
  if (spec.from !== undefined) settings.from = spec.from;
  if (spec.workdir !== undefined) settings.workdir = spec.workdir;
  if (spec.user !== undefined) settings.user = spec.user;
  if (spec.command !== undefined) settings.command = spec.command;
  if (spec.app) settings.app = { path: '(hashed as files)', dest: spec.app.dest };
  return settings;
}

export function fileFingerprints(files: readonly SourceFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.rel, `${f.mode.toString(8)}:${f.sha256}`]));
}

function walk(root: string, at: string): SourceFile[] {
  const stat = lstatSync(at);
  const rel = relative(root, at).split(sep).join('/');
  if (stat.isSymbolicLink()) {
    const target = readlinkSync(at);
    return [{ rel, abs: at, mode: 0o777, sha256: sha256(`symlink:${target}`), symlink: target }];
  }
  if (stat.isFile()) {
    return [{ rel, abs: at, mode: stat.mode & 0o111 ? 0o755 : 0o644, sha256: sha256(readFileSync(at)) }];
  }
  if (!stat.isDirectory()) return [];
  return readdirSync(at)
    .sort()
    .flatMap((name) => walk(root, join(at, name)));
}

function basenameOf(path: string): string {
  return path.split(sep).pop() ?? path;
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
