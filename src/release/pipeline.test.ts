import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPromotion, missingStages, parseShare } from './pipeline.js';

const PIPELINE = ['dev', 'test', 'staging', 'canary', 'production'];

describe('the promotion pipeline', () => {
  it('names the earlier stages that have not run the release', () => {
    const ran = new Set(['dev', 'test']);
    assert.deepEqual(missingStages(PIPELINE, 'production', (e) => ran.has(e)), ['staging', 'canary']);
    assert.deepEqual(missingStages(PIPELINE, 'staging', (e) => ran.has(e)), []);
  });

  it('refuses a promotion out of order, naming the missing stage, unless forced', () => {
    assert.throws(() => checkPromotion(PIPELINE, 'api', 4, 'staging', (e) => e === 'dev', false), /release 4 of api has not run in test, which comes before staging/);
    assert.deepEqual(checkPromotion(PIPELINE, 'api', 4, 'staging', (e) => e === 'dev', true), { missing: ['test'] });
  });

  it('parses a canary share: a whole percentage strictly between 0 and 100, with its % sign', () => {
    assert.equal(parseShare('10%'), 0.1);
    for (const bad of ['0%', '100%', '150', '-5%', 'ten', '2.5', '10', '10.5%']) assert.throws(() => parseShare(bad), /between 0 and 100/);
  });
});
