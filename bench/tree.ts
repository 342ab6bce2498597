/** Image trees for the build benchmarks: the 20-image tree of issue 2 and generated bigger ones. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Each image's parent (undefined for the root). */
export type Tree = Record<string, string | undefined>;

/** base → 3 runtimes → 6 middleware → 10 business images: 20 in all. */
export function tree20(): Tree {
  const parents: Tree = { base: undefined, r1: 'base', r2: 'base', r3: 'base' };
  for (let i = 1; i <= 6; i++) parents[`m${i}`] = `r${Math.ceil(i / 2)}`;
  const business = ['m1', 'm1', 'm2', 'm2', 'm3', 'm4', 'm5', 'm5', 'm6', 'm6'];
  business.forEach((parent, i) => (parents[`b${i + 1}`] = parent));
  return parents;
}

/**
 * A hierarchy of `size` images, depth 5 below the root (6 levels): images are added level by
 * level, each under a parent of the level above chosen so fan-outs vary (1 to about 3× the mean),
 * deterministic for a size.
 */
export function generatedTree(size: number, depth = 5): Tree {
  const parents: Tree = { base: undefined };
  // Level sizes grow geometrically to fill `size` over `depth` levels below the root.
  const ratio = Math.max(1.01, solveRatio(size - 1, depth));
  const levels: string[][] = [['base']];
  let made = 1;
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let level = 1; level <= depth; level++) {
    const want = level === depth ? size - made : Math.max(levels[level - 1]!.length, Math.round(ratio ** level));
    const above = levels[level - 1]!;
    const names: string[] = [];
    for (let i = 0; i < want && made < size; i++) {
      // The first pass gives every parent one child (so the tree keeps its depth); the rest go to a skewed pick.
      const parent = i < above.length ? above[i]! : above[Math.floor(random() ** 2 * above.length)]!;
      const name = `l${level}i${i}`;
      parents[name] = parent;
      names.push(name);
      made++;
    }
    levels.push(names);
  }
  return parents;
}

function solveRatio(total: number, depth: number): number {
  let low = 1;
  let high = total;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    let sum = 0;
    for (let l = 1; l <= depth; l++) sum += mid ** l;
    if (sum > total) high = mid;
    else low = mid;
  }
  return low;
}

/** Writes the tree as a Berth project (tiny root from a tarball) in `dir`. */
export function writeBerthProject(dir: string, project: string, parents: Tree, rootTar: string, run: string): void {
  const images: Record<string, unknown> = {};
  for (const [name, parent] of Object.entries(parents)) {
    images[name] = parent ? { from: parent } : { root: { tarball: rootTar }, env: { BENCH_RUN: run } };
    mkdirSync(join(dir, 'images', name), { recursive: true });
    writeFileSync(join(dir, 'images', name, 'static.sh'), staticScript(name), { mode: 0o755 });
  }
  writeFileSync(join(dir, 'berth.yaml'), stringify({ project, images }));
}

/** The same tree as one Dockerfile folder per image. */
export function writeDockerfiles(dir: string, parents: Tree, tag: (name: string) => string, rootTag: string, run: string): void {
  for (const [name, parent] of Object.entries(parents)) {
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'static.sh'), staticScript(name), { mode: 0o755 });
    writeFileSync(join(folder, 'Dockerfile'), `FROM ${parent ? tag(parent) : rootTag}\nENV BENCH_RUN=${run}\nCOPY static.sh /opt/static.sh\nRUN sh /opt/static.sh\n`);
  }
}

/** Parents before children. */
export function ordered(parents: Tree): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  const visit = (name: string) => {
    if (done.has(name)) return;
    const parent = parents[name];
    if (parent) visit(parent);
    done.add(name);
    out.push(name);
  };
  Object.keys(parents).forEach(visit);
  return out;
}

function staticScript(name: string): string {
  return `#!/bin/sh\necho ${name} > /${name}.txt\n`;
}
