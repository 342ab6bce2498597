/**
 * The build planner: from plain data (the images' inputs, what the engine
 * holds, what was built last time) to a plan of what to build and why.
 * Pure: no engine, no files.
 */
import { createHash } from 'node:crypto';
import type { BuildInputs, BuildRecord } from '../store/builds.js';
import { ASSETS_DIGEST } from './assets.js';

/**
 * The version of Berth's build recipe: a number for the Dockerfile's shape (bump
 * it when recipe.ts changes what it builds) and the digest of the helper scripts
 * (assets.ts), which changes by itself. Either change rebuilds every image once.
 */
export const RECIPE_VERSION = `2+${ASSETS_DIGEST}`;

export interface PlanImage {
  name: string;
  parent?: string | undefined;
  settings: unknown;
  files: Record<string, string>;
  /** For roots: the root filesystem image's ID when it is already bootstrapped, else undefined. */
  rootId?: string | undefined;
  /** For roots: a readable description of the root filesystem ("bookworm minbase + 4 packages"). */
  rootLabel?: string;
}

export interface PlanState {
  /** Build key → image ID, for every Berth image the engine holds. */
  built: ReadonlyMap<string, string>;
  /** The last recorded build of each image. */
  last: ReadonlyMap<string, BuildRecord>;
}

export type Action = 'build' | 'skip';

export interface PlanEntry {
  name: string;
  parent: string | null;
  /** null when it cannot be known yet: the parent will be rebuilt first. */
  key: string | null;
  action: Action;
  reason: string;
  /** The image ID when it is up to date. */
  imageId?: string;
}

export function buildKey(inputs: BuildInputs): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

const keys = new WeakMap<PlanImage, { parentId: string; files: unknown; settings: unknown; name: string; key: string }>();

/**
 * The image's key on this parent. A build check computes it up to three times per image
 * (lookup, plan, executor): the last one is kept for the image while its inputs are the same objects.
 */
export function keyOf(image: PlanImage, parentId: string): string {
  const known = keys.get(image);
  // Inputs replaced on the image (a test does) make a new key: the files and settings are compared by identity.
  if (known && known.parentId === parentId && known.files === image.files && known.settings === image.settings && known.name === image.name) return known.key;
  const key = buildKey(inputsOf(image, parentId));
  keys.set(image, { parentId, files: image.files, settings: image.settings, name: image.name, key });
  return key;
}

export function inputsOf(image: PlanImage, parentId: string): BuildInputs {
  return { recipe: RECIPE_VERSION, image: image.name, settings: image.settings, files: image.files, parentId };
}

/** Decides one image given its parent's image ID (undefined: the parent is not built yet). */
export function decide(image: PlanImage, parentId: string | undefined, state: PlanState): PlanEntry {
  const base = { name: image.name, parent: image.parent ?? null };
  if (parentId === undefined) {
    const reason = image.parent === undefined ? `root filesystem${image.rootLabel ? ` (${image.rootLabel})` : ''} not bootstrapped yet` : `parent "${image.parent}" will be rebuilt`;
    return { ...base, key: null, action: 'build', reason };
  }
  const key = keyOf(image, parentId);
  const existing = state.built.get(key);
  if (existing !== undefined) return { ...base, key, action: 'skip', reason: 'up to date', imageId: existing };
  return { ...base, key, action: 'build', reason: staleReason(image, parentId, key, state.last.get(image.name)) };
}

/** Plans the whole tree in topological order. */
export function planBuild(ordered: readonly PlanImage[], state: PlanState): PlanEntry[] {
  const ids = new Map<string, string | undefined>();
  return ordered.map((image) => {
    const parentId = image.parent === undefined ? image.rootId : ids.get(image.parent);
    const entry = decide(image, parentId, state);
    ids.set(image.name, entry.imageId);
    return entry;
  });
}

/** Why an image with this key is not built: compared with its last build. */
export function staleReason(image: PlanImage, parentId: string, key: string, last: BuildRecord | undefined): string {
  if (!last) return 'never built';
  if (last.key === key) return 'built before, but the image is gone from the engine';
  const reasons: string[] = [];
  if (last.inputs.recipe !== RECIPE_VERSION) reasons.push(`Berth's build recipe changed (${last.inputs.recipe} → ${RECIPE_VERSION})`);
  if (last.parentId !== parentId) reasons.push(image.parent === undefined ? 'root filesystem changed' : `parent "${image.parent}" changed`);
  const changedFiles = diffFiles(last.inputs.files, image.files);
  if (changedFiles.length > 0) reasons.push(summarize(changedFiles));
  const changedSettings = diffSettings(last.inputs.settings, image.settings);
  if (changedSettings.length > 0) reasons.push(`settings changed: ${changedSettings.join(', ')}`);
  return reasons.length > 0 ? reasons.join('; ') : 'inputs changed';
}

export function diffFiles(before: Record<string, string>, after: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [path, fingerprint] of Object.entries(after)) {
    const old = before[path];
    if (old === undefined) out.push(`${path} added`);
    else if (old !== fingerprint) out.push(old.split(':')[1] === fingerprint.split(':')[1] ? `${path} mode changed` : `${path} changed`);
  }
  for (const path of Object.keys(before)) if (!(path in after)) out.push(`${path} removed`);
  return out.sort();
}

export function diffSettings(before: unknown, after: unknown): string[] {
  const a = (before ?? {}) as Record<string, unknown>;
  const b = (after ?? {}) as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}

function summarize(changes: string[]): string {
  return changes.length <= 3 ? changes.join(', ') : `${changes.slice(0, 3).join(', ')} and ${changes.length - 3} more files`;
}

/** JSON with sorted object keys, so equal data always hashes equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  ) ?? 'null';
}
