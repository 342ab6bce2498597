import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareVersions } from './checks.js';

describe('compareVersions', () => {
  it('compares dotted versions numerically', () => {
    assert.deepEqual([compareVersions('1.41', '1.41'), Math.sign(compareVersions('1.9', '1.41')), Math.sign(compareVersions('1.44', '1.41'))], [0, -1, 1]);
  });
});
