/**
 * The image hierarchy as a graph of names: pure functions, no I/O.
 * A node's parent is the image named in its `from:`; roots have none.
 */
export interface GraphNode {
  name: string;
  parent?: string | undefined;
}

export type GraphProblem =
  | { kind: 'unknown-parent'; name: string; parent: string }
  | { kind: 'cycle'; names: string[] };

/** Unknown parents and cycles (each cycle once, in `from:` order). */
export function graphProblems(nodes: readonly GraphNode[]): GraphProblem[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const problems: GraphProblem[] = [];
  for (const node of nodes) {
    if (node.parent !== undefined && !byName.has(node.parent)) {
      problems.push({ kind: 'unknown-parent', name: node.name, parent: node.parent });
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  for (const start of nodes) {
    const path: string[] = [];
    let current: GraphNode | undefined = start;
    while (current && state.get(current.name) !== 'done') {
      if (state.get(current.name) === 'visiting') {
        const cycle = path.slice(path.indexOf(current.name));
        problems.push({ kind: 'cycle', names: cycle });
        break;
      }
      state.set(current.name, 'visiting');
      path.push(current.name);
      current = current.parent === undefined ? undefined : byName.get(current.parent);
    }
    for (const name of path) state.set(name, 'done');
  }
  return problems;
}

/** Parents before children; siblings in name order, so plans are stable. Assumes no problems. */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const children = childrenOf(nodes);
  const order: string[] = [];
  const queue = nodes.filter((n) => n.parent === undefined).map((n) => n.name).sort();
  for (let next = 0; next < queue.length; next++) {
    const name = queue[next]!;
    order.push(name);
    queue.push(...(children.get(name) ?? []));
  }
  return order;
}

/** Map from each name to its direct children, sorted. */
export function childrenOf(nodes: readonly GraphNode[]): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const node of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (node.parent === undefined) continue;
    const list = children.get(node.parent) ?? [];
    list.push(node.name);
    children.set(node.parent, list);
  }
  return children;
}

/** Every descendant of `name` (not including itself). */
export function descendantsOf(nodes: readonly GraphNode[], name: string): string[] {
  const children = childrenOf(nodes);
  const out: string[] = [];
  const queue = [...(children.get(name) ?? [])];
  for (let i = 0; i < queue.length; i++) {
    out.push(queue[i]!);
    queue.push(...(children.get(queue[i]!) ?? []));
  }
  return out;
}

/** The chain from the root down to `name`, inclusive. */
export function ancestryOf(nodes: readonly GraphNode[], name: string): string[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const chain: string[] = [];
  let current = byName.get(name);
  while (current) {
    chain.unshift(current.name);
    current = current.parent === undefined ? undefined : byName.get(current.parent);
  }
  return chain;
}

/** `names` and all their ancestors, in one pass over the graph. */
export function withAncestors(nodes: readonly GraphNode[], names: readonly string[]): Set<string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = new Set<string>();
  for (const name of names) {
    let current = byName.get(name);
    while (current && !out.has(current.name)) {
      out.add(current.name);
      current = current.parent === undefined ? undefined : byName.get(current.parent);
    }
  }
  return out;
}

/** Depth of one image: roots are 0. */
export function depthOf(nodes: readonly GraphNode[], name: string): number {
  return ancestryOf(nodes, name).length - 1;
}

/** Depth of every image (roots are 0), each computed once: linear in the graph, where a depthOf per image was quadratic. Assumes no cycle. */
export function depthsOf(nodes: readonly GraphNode[]): Map<string, number> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const depths = new Map<string, number>();
  const depth = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    // Iterative: walk up to a node of known depth, then fill the chain back down.
    const chain: string[] = [];
    let current = byName.get(name);
    let base = -1;
    while (current) {
      const d = depths.get(current.name);
      if (d !== undefined) {
        base = d;
        break;
      }
      chain.push(current.name);
      current = current.parent === undefined ? undefined : byName.get(current.parent);
    }
    for (let i = chain.length - 1; i >= 0; i--) depths.set(chain[i]!, ++base);
    return depths.get(name) ?? 0;
  };
  for (const node of nodes) depth(node.name);
  return depths;
}
