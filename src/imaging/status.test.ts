import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { depthFirst } from './status.js';

const node = (name: string, parent: string | null = null) => ({ name, parent });

describe('depthFirst', () => {
  it('lists each image right before its subtree, siblings and roots by name, whatever the input order', () => {
    // The planner's level order: every root, then every image of depth 1, then depth 2, ...
    const levelOrder = [
      node('base'),
      node('alpine'),
      node('nodejs', 'base'),
      node('jdk17', 'base'),
      node('hello-node', 'nodejs'),
      node('tomcat', 'jdk17'),
      node('edge', 'alpine'),
      node('hello-java', 'tomcat'),
      node('admin', 'tomcat'),
    ];
    assert.deepEqual(
      depthFirst(levelOrder).map((n) => n.name),
      ['alpine', 'edge', 'base', 'jdk17', 'tomcat', 'admin', 'hello-java', 'nodejs', 'hello-node'],
    );
    assert.deepEqual(depthFirst([...levelOrder].reverse()), depthFirst(levelOrder));
  });

  it('keeps every item, and the extra fields of each', () => {
    const items = [{ ...node('b', 'a'), depth: 1 }, { ...node('a'), depth: 0 }];
    assert.deepEqual(depthFirst(items), [{ name: 'a', parent: null, depth: 0 }, { name: 'b', parent: 'a', depth: 1 }]);
  });

  it('treats an image whose parent is not listed as a root', () => {
    assert.deepEqual(depthFirst([node('b', 'gone'), node('a')]).map((n) => n.name), ['a', 'b']);
  });
});
