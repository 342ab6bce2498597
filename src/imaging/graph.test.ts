import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ancestryOf, depthOf, depthsOf, descendantsOf, graphProblems, topologicalOrder, withAncestors, type GraphNode } from './graph.js';

/** base → jdk → tomcat → app, base → node → napp; a second root "alpine" → tools. */
const tree: GraphNode[] = [
  { name: 'tomcat', parent: 'jdk' },
  { name: 'napp', parent: 'node' },
  { name: 'app', parent: 'tomcat' },
  { name: 'tools', parent: 'alpine' },
  { name: 'node', parent: 'base' },
  { name: 'jdk', parent: 'base' },
  { name: 'base' },
  { name: 'alpine' },
];

describe('graphProblems', () => {
  it('finds nothing wrong in a valid tree', () => {
    assert.deepEqual(graphProblems(tree), []);
  });

  it('reports an unknown parent with the image that names it', () => {
    const problems = graphProblems([{ name: 'base' }, { name: 'jdk', parent: 'bse' }]);
    assert.deepEqual(problems, [{ kind: 'unknown-parent', name: 'jdk', parent: 'bse' }]);
  });

  it('reports a 2-cycle once, in from: order', () => {
    const problems = graphProblems([{ name: 'base' }, { name: 'a', parent: 'b' }, { name: 'b', parent: 'a' }]);
    assert.deepEqual(problems, [{ kind: 'cycle', names: ['a', 'b'] }]);
  });

  it('reports a 3-cycle once, even when other images hang off it', () => {
    const problems = graphProblems([
      { name: 'x', parent: 'a' },
      { name: 'a', parent: 'b' },
      { name: 'b', parent: 'c' },
      { name: 'c', parent: 'a' },
      { name: 'y', parent: 'c' },
    ]);
    assert.deepEqual(problems, [{ kind: 'cycle', names: ['a', 'b', 'c'] }]);
  });

  it('reports an image that is its own parent', () => {
    assert.deepEqual(graphProblems([{ name: 'self', parent: 'self' }]), [{ kind: 'cycle', names: ['self'] }]);
  });

  it('reports unknown parents and cycles together', () => {
    const problems = graphProblems([
      { name: 'a', parent: 'b' },
      { name: 'b', parent: 'a' },
      { name: 'c', parent: 'nowhere' },
    ]);
    assert.deepEqual(problems, [
      { kind: 'unknown-parent', name: 'c', parent: 'nowhere' },
      { kind: 'cycle', names: ['a', 'b'] },
    ]);
  });
});

describe('topologicalOrder', () => {
  it('puts every parent before its children', () => {
    const order = topologicalOrder(tree);
    assert.equal(order.length, tree.length);
    for (const node of tree) {
      if (node.parent === undefined) continue;
      assert.ok(order.indexOf(node.parent) < order.indexOf(node.name), `${node.parent} before ${node.name} in ${order.join(',')}`);
    }
  });

  it('orders roots and siblings by name, whatever the input order', () => {
    const expected = ['alpine', 'base', 'tools', 'jdk', 'node', 'tomcat', 'napp', 'app'];
    assert.deepEqual(topologicalOrder(tree), expected);
    assert.deepEqual(topologicalOrder([...tree].reverse()), expected);
  });
});

describe('descendantsOf', () => {
  it('lists children and grandchildren, not the image itself', () => {
    assert.deepEqual(descendantsOf(tree, 'jdk'), ['tomcat', 'app']);
    assert.deepEqual(descendantsOf(tree, 'base').sort(), ['app', 'jdk', 'napp', 'node', 'tomcat']);
  });

  it('is empty for a leaf and for an unknown name', () => {
    assert.deepEqual(descendantsOf(tree, 'app'), []);
    assert.deepEqual(descendantsOf(tree, 'nope'), []);
  });
});

describe('ancestryOf and depthOf', () => {
  it('gives the chain from the root down to the image, inclusive', () => {
    assert.deepEqual(ancestryOf(tree, 'app'), ['base', 'jdk', 'tomcat', 'app']);
    assert.deepEqual(ancestryOf(tree, 'base'), ['base']);
    assert.deepEqual(ancestryOf(tree, 'nope'), []);
  });

  it('counts roots as depth 0', () => {
    assert.equal(depthOf(tree, 'base'), 0);
    assert.equal(depthOf(tree, 'jdk'), 1);
    assert.equal(depthOf(tree, 'napp'), 2);
    assert.equal(depthOf(tree, 'app'), 3);
  });
});

describe('depthsOf and withAncestors (one pass each)', () => {
  it('gives every image the depth depthOf gives it', () => {
    const depths = depthsOf(tree);
    assert.equal(depths.size, tree.length);
    for (const node of tree) assert.equal(depths.get(node.name), depthOf(tree, node.name), node.name);
  });

  it('fills a long chain given child first', () => {
    const chain: GraphNode[] = Array.from({ length: 50 }, (_, i) => ({ name: `n${i}`, parent: i === 0 ? undefined : `n${i - 1}` })).reverse();
    const depths = depthsOf(chain);
    assert.equal(depths.get('n49'), 49);
    assert.equal(depths.get('n0'), 0);
  });

  it('gives the named images and their ancestors, each once', () => {
    assert.deepEqual([...withAncestors(tree, ['app', 'napp'])].sort(), [...new Set([...ancestryOf(tree, 'app'), ...ancestryOf(tree, 'napp')])].sort());
    assert.deepEqual([...withAncestors(tree, ['nope'])], []);
  });
});
