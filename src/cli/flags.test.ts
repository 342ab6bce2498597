import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { parseShare } from '../release/pipeline.js';
import { attachDashedValues, positiveFlag, timeoutFlag } from './flags.js';

describe('flag values', () => {
  it('a value that starts with a dash stays the value of its flag, so its own check can say what it expects', () => {
    const flags = new Set(['--to', '--canary', '-e']);
    assert.deepEqual(attachDashedValues(['web', '--to', '-1', '-e', 'dev'], flags), ['web', '--to=-1', '-e', 'dev']);
    assert.deepEqual(attachDashedValues(['--canary', '-5%'], flags), ['--canary=-5%']);
    // Not a number: still a flag. After --, nothing is touched.
    assert.deepEqual(attachDashedValues(['--to', '--json'], flags), ['--to', '--json']);
    assert.deepEqual(attachDashedValues(['x', '--', '--to', '-1'], flags), ['x', '--', '--to', '-1']);
    assert.throws(() => positiveFlag('-1', '--to'), (e: unknown) => isBerthError(e) && e.kind === 'invalid' && e.message === '--to must be a whole number above 0, got "-1"');
    assert.throws(() => positiveFlag('2.5', '--to'), /whole number above 0/);
    assert.equal(positiveFlag('4', '--to'), 4);
  });

  it('a canary share is a whole percentage from 1% to 99% with its sign', () => {
    assert.equal(parseShare('10%'), 0.1);
    assert.equal(parseShare('1%'), 0.01);
    assert.equal(parseShare('99%'), 0.99);
    for (const text of ['10', '10.5%', '0%', '100%', '-5%', 'ten', '0.1', '']) {
      assert.throws(() => parseShare(text), (e: unknown) => isBerthError(e) && e.kind === 'invalid' && e.message.includes(`got "${text}"`) && e.fix === 'e.g. --canary 10%', text);
    }
  });
});

describe('timeoutFlag', () => {
  it('takes a duration from 1s to 24h, refuses what is beyond (as the API does), and is absent when not given', () => {
    assert.equal(timeoutFlag('90s'), 90_000);
    assert.equal(timeoutFlag('24h'), 86_400_000);
    assert.equal(timeoutFlag(undefined), undefined);
    assert.throws(() => timeoutFlag('99999h'), /--timeout must be between 1s and 24h, got "99999h"/);
    assert.throws(() => timeoutFlag('10ms'), /between 1s and 24h/);
  });
});
