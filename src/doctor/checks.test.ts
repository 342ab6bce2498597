import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareVersions, testKnobCheck } from './checks.js';

describe('test knobs check', () => {
  it('is ok when no BERTH_TEST_ variable is set (an empty one counts as unset)', () => {
    assert.deepEqual(testKnobCheck({ PATH: '/bin', BERTH_STATE_DIR: '/s', BERTH_TEST_FAULT_KILL_AT: '' }), {
      name: 'test knobs',
      status: 'ok',
      detail: 'no BERTH_TEST_ variable is set',
    });
  });

  it('warns about each one set, with what it does and the unset that fixes it', () => {
    assert.deepEqual(testKnobCheck({ BERTH_TEST_HAPROXY_BIN: '/tmp/fake', BERTH_TEST_FAULT_KILL_AT: '3', BERTH_TEST_OTHER: 'x' }), {
      name: 'test knobs',
      status: 'warn',
      detail:
        "set for Berth's own tests only: BERTH_TEST_FAULT_KILL_AT=3 (kills Berth in the middle of a rollout); BERTH_TEST_HAPROXY_BIN=/tmp/fake (front doors run another program than haproxy); BERTH_TEST_OTHER=x",
      fix: 'unset BERTH_TEST_FAULT_KILL_AT BERTH_TEST_HAPROXY_BIN BERTH_TEST_OTHER',
    });
  });
});

describe('compareVersions', () => {
  it('compares dotted versions numerically', () => {
    assert.deepEqual([compareVersions('1.41', '1.41'), Math.sign(compareVersions('1.9', '1.41')), Math.sign(compareVersions('1.44', '1.41'))], [0, -1, 1]);
  });
});
