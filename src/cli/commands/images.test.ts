import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { depthFirst } from '../../imaging/status.js';
import { treeLabels } from './images.js';

const node = (name: string, parent: string | null = null) => ({ name, parent });

describe('treeLabels', () => {
  it('draws each image under its parent, in depth-first order', () => {
    const tree = depthFirst([
      node('base'),
      node('nodejs', 'base'),
      node('jdk17', 'base'),
      node('hello-node', 'nodejs'),
      node('tomcat', 'jdk17'),
      node('hello-java', 'tomcat'),
      node('admin', 'tomcat'),
      node('tiny'),
    ]);
    assert.deepEqual(treeLabels(tree), [
      'base',
      '├─ jdk17',
      '│  └─ tomcat',
      '│     ├─ admin',
      '│     └─ hello-java',
      '└─ nodejs',
      '   └─ hello-node',
      'tiny',
    ]);
  });

  it('prints a lone root as its name', () => {
    assert.deepEqual(treeLabels([node('base')]), ['base']);
  });
});
