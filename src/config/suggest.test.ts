import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, nearest } from './suggest.js';

describe('did-you-mean suggestions', () => {
  it('suggests the candidate within a typo’s reach', () => {
    assert.equal(nearest('bse', ['base', 'jdk17']), 'base');
    assert.equal(didYouMean('wbe', ['web', 'api']), ' (did you mean "web"?)');
  });

  it('suggests the one candidate an abbreviation starts', () => {
    assert.equal(nearest('prod', ['dev', 'production']), 'production');
  });

  it('suggests nothing when an abbreviation is ambiguous or nothing is near', () => {
    assert.equal(nearest('pro', ['production', 'prometheus']), undefined);
    assert.equal(didYouMean('zzzzzz', ['dev', 'production']), '');
  });
});
