/**
 * Gathers everything the planner needs, in as few reads as possible: the
 * images' inputs from disk, and in one call each what the engine holds.
 */
import type { ImageSpec, Project } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { EngineImage } from '../engine/images.js';
import { latestBuilds } from '../store/builds.js';
import type { Db } from '../store/db.js';
import { ancestryOf, depthOf, topologicalOrder, type GraphNode } from './graph.js';
import { canonicalSettings, fileFingerprints, scanImageFiles, type SourceFile } from './inputs.js';
import type { PlanImage, PlanState } from './plan.js';
import { imageTag } from './recipe.js';
import { describeRoot, knownRoots, rootKey } from './rootfs.js';

export const KEY_LABEL = 'berth.key';

export interface PreparedImage extends PlanImage {
  spec: ImageSpec;
  sources: SourceFile[];
  depth: number;
  rootKey?: string;
}

export interface Prepared {
  images: PreparedImage[];
  state: PlanState;
  /** Every Berth-built image the engine holds. */
  engineImages: EngineImage[];
}

export function isTaggedBuild(image: EngineImage): boolean {
  const name = image.labels['berth.image'];
  const key = image.labels[KEY_LABEL];
  return name !== undefined && key !== undefined && image.tags.includes(imageTag(name, key));
}

/** Images in build order; with `only`, just those and their ancestors. */
export function orderedSpecs(project: Project, only: readonly string[] = []): ImageSpec[] {
  const nodes: GraphNode[] = [...project.images.values()].map((s) => ({ name: s.name, parent: s.from }));
  const wanted = only.length === 0 ? undefined : new Set(only.flatMap((name) => ancestryOf(nodes, name)));
  return topologicalOrder(nodes)
    .filter((name) => !wanted || wanted.has(name))
    .map((name) => project.images.get(name)!);
}

export async function prepare(project: Project, engine: Engine, db: Db, only: readonly string[] = []): Promise<Prepared> {
  const specs = orderedSpecs(project, only);
  const [builtImages, roots] = await Promise.all([engine.images.list(KEY_LABEL), knownRoots(engine)]);
  const nodes = specs.map((s) => ({ name: s.name, parent: s.from }));
  const images = specs.map((spec): PreparedImage => {
    const sources = scanImageFiles(spec);
    const image: PreparedImage = {
      name: spec.name,
      parent: spec.from,
      settings: canonicalSettings(spec),
      files: fileFingerprints(sources),
      spec,
      sources,
      depth: depthOf(nodes, spec.name),
    };
    if (spec.root) {
      image.rootKey = rootKey(spec.root, project.build.sourceDateEpoch, db);
      image.rootId = roots.get(image.rootKey);
      image.rootLabel = describeRoot(spec.root);
    }
    return image;
  });
  // Labels are inherited by children and by a failed build's cached steps: only the tag proves a build.
  const built = new Map(builtImages.filter(isTaggedBuild).map((i) => [i.labels[KEY_LABEL]!, i.id]));
  return { images, state: { built, last: latestBuilds(db) }, engineImages: builtImages.filter(isTaggedBuild) };
}
