/**
 * Gathers everything the planner needs: the images' inputs from disk, and
 * from the engine whether each image's current key is already built.
 *
 * Listing images makes the engine compute every image's size (~40 ms per call
 * here); inspecting a tag costs ~2 ms. A key is known once the parent's image
 * ID is, so lookups go level by level, siblings in parallel.
 */
import type { ImageSpec, Project } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { EngineImage } from '../engine/images.js';
import { latestBuilds } from '../store/builds.js';
import type { Store } from '../store/db.js';
import { depthsOf, topologicalOrder, withAncestors, type GraphNode } from './graph.js';
import { canonicalSettings, fileFingerprints, scanImageFiles, type SourceFile } from './inputs.js';
import { keyOf, type PlanImage, type PlanState } from './plan.js';
import { imageTag } from './recipe.js';
import { describeRoot, rootKey, rootRef, ROOTFS_LABEL } from './rootfs.js';

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
  /** The engine's image for each image name whose current key is built. */
  current: Map<string, EngineImage>;
}

/** Images in build order; with `only`, just those and their ancestors. */
export function orderedSpecs(project: Project, only: readonly string[] = []): ImageSpec[] {
  const nodes: GraphNode[] = [...project.images.values()].map((s) => ({ name: s.name, parent: s.from }));
  const wanted = only.length === 0 ? undefined : withAncestors(nodes, only);
  return topologicalOrder(nodes)
    .filter((name) => !wanted || wanted.has(name))
    .map((name) => project.images.get(name)!);
}

export async function prepare(project: Project, engine: Engine, db: Store, only: readonly string[] = []): Promise<Prepared> {
  const specs = orderedSpecs(project, only);
  const depths = depthsOf(specs.map((s) => ({ name: s.name, parent: s.from })));
  const images = await Promise.all(specs.map(async (spec): Promise<PreparedImage> => {
    const sources = scanImageFiles(spec);
    const image: PreparedImage = {
      name: spec.name,
      parent: spec.from,
      settings: canonicalSettings(spec),
      files: fileFingerprints(sources),
      spec,
      sources,
      depth: depths.get(spec.name)!,
    };
    if (spec.root) {
      image.rootKey = await rootKey(spec.root, project.build.sourceDateEpoch, db);
      image.rootLabel = describeRoot(spec.root);
    }
    return image;
  }));
  await Promise.all(
    images.filter((i) => i.spec.root).map(async (image) => {
      const root = await engine.images.inspect(rootRef(image.spec.root!, image.rootKey!));
      if (root && root.labels[ROOTFS_LABEL] === image.rootKey) image.rootId = root.id;
    }),
  );
  const current = await lookUpBuilt(images, engine);
  const built = new Map([...current.values()].map((i) => [i.labels[KEY_LABEL]!, i.id]));
  return { images, state: { built, last: await latestBuilds(db) }, current };
}

async function lookUpBuilt(images: readonly PreparedImage[], engine: Engine): Promise<Map<string, EngineImage>> {
  const found = new Map<string, EngineImage>();
  const maxDepth = Math.max(0, ...images.map((i) => i.depth));
  for (let depth = 0; depth <= maxDepth; depth++) {
    await Promise.all(
      images
        .filter((i) => i.depth === depth)
        .map(async (image) => {
          const parentId = image.parent === undefined ? image.rootId : found.get(image.parent)?.id;
          if (parentId === undefined) return;
          const key = keyOf(image, parentId);
          const engineImage = await engine.images.inspect(imageTag(image.name, key));
          // The tag holds only a short key: the label proves it is this exact build.
          if (engineImage?.labels[KEY_LABEL] === key) found.set(image.name, engineImage);
        }),
    );
  }
  return found;
}
