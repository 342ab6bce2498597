/**
 * The state of every image for `berth images`: the plan joined with what the
 * engine holds and the last build records.
 */
import type { Project } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { Store } from '../store/db.js';
import { planBuild } from './plan.js';
import { KEY_LABEL, prepare } from './prepare.js';

export interface ImageStatus {
  name: string;
  parent: string | null;
  depth: number;
  state: 'up to date' | 'stale' | 'missing';
  /** Why it is stale or missing. */
  reason: string | null;
  key: string | null;
  imageId: string | null;
  tag: string | null;
  size: number | null;
  builtAt: string | null;
  buildMs: number | null;
}

export async function imageStatuses(project: Project, engine: Engine, db: Store): Promise<ImageStatus[]> {
  const prepared = await prepare(project, engine, db);
  const plan = planBuild(prepared.images, prepared.state);
  const last = prepared.state.last;
  const previous = await Promise.all(
    plan.map((entry) => {
      const record = last.get(entry.name);
      return entry.action === 'build' && record ? engine.images.inspect(record.imageId) : undefined;
    }),
  );
  const statuses = plan.map((entry, index): ImageStatus => {
    const record = last.get(entry.name);
    const image = prepared.current.get(entry.name) ?? previous[index];
    const state = entry.action === 'skip' ? 'up to date' : image ? 'stale' : 'missing';
    return {
      name: entry.name,
      parent: entry.parent,
      depth: prepared.images[index]!.depth,
      state,
      reason: state === 'up to date' ? null : entry.reason,
      key: image ? (image.labels[KEY_LABEL] ?? null) : entry.key,
      imageId: image?.id ?? null,
      tag: image?.tags[0] ?? null,
      size: image?.size ?? null,
      builtAt: image ? new Date(image.created * 1000).toISOString() : null,
      buildMs: image && record?.imageId === image.id ? record.durationMs : null,
    };
  });
  return depthFirst(statuses);
}

/**
 * The tree in depth-first order: each image, then its children's subtrees,
 * siblings (and roots) by name. An image whose parent is not listed counts as a root.
 * @example depthFirst([{ name: 'base', parent: null }, { name: 'nodejs', parent: 'base' }, { name: 'jdk17', parent: 'base' }, { name: 'tomcat', parent: 'jdk17' }])
 * // → base, jdk17, tomcat, nodejs
 */
export function depthFirst<T extends { name: string; parent: string | null }>(items: readonly T[]): T[] {
  const byName = new Map(items.map((item) => [item.name, item]));
  const children = new Map<string | null, T[]>();
  for (const item of items) {
    const parent = item.parent !== null && byName.has(item.parent) ? item.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), item]);
  }
  for (const list of children.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: T[] = [];
  const visit = (item: T) => {
    out.push(item);
    for (const child of children.get(item.name) ?? []) visit(child);
  };
  for (const root of children.get(null) ?? []) visit(root);
  return out;
}
