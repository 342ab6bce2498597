import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeoverFigures, type TimedRequest } from './takeover.js';

describe('the figures of a takeover under load', () => {
  it('a success that started while the link was still going down is not the first success after the crash', () => {
    // The crash began at 1000 (the link command sent) and was done at 1200; one request slipped through the old holder at 1050.
    const requests: TimedRequest[] = [
      [900, 950, true],
      [960, 990, true],
      [995, 1010, true],
      [1050, 1080, true],
      [1085, 2085, false],
      [2100, 3100, false],
      [3150, 4150, false],
      [4200, 4230, true],
      [4240, 4260, true],
    ];
    assert.deepEqual(takeoverFigures(requests, { began: 1000, done: 1200 }), {
      before: { sent: 2, failed: 0 },
      during: { sent: 3, failed: 1 },
      after: { sent: 4, failed: 2 },
      firstSuccessMs: 3030,
      failedAfterFirstSuccess: 0,
    });
  });

  it('counts failures after the first success, and has no first success when none came', () => {
    const requests: TimedRequest[] = [
      [1300, 1400, true],
      [1500, 2500, false],
      [2600, 2700, true],
    ];
    assert.equal(takeoverFigures(requests, { began: 1000, done: 1200 }).failedAfterFirstSuccess, 1);
    const none = takeoverFigures([[1300, 2300, false]], { began: 1000, done: 1200 });
    assert.equal(none.firstSuccessMs, undefined);
    assert.equal(none.failedAfterFirstSuccess, 0);
  });
});
