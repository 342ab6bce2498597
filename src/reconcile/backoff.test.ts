import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepairBackoff } from './backoff.js';

describe("the reconciler's wait before a failed repair is tried again", () => {
  const T0 = Date.parse('2026-12-02T12:00:00Z');

  it('a pair never failed, or repaired since, is not held back', () => {
    const backoff = new RepairBackoff(10_000, 300_000);
    assert.equal(backoff.heldBack('web\0dev', T0), undefined);
    backoff.record('web\0dev', { ok: false, message: 'port taken' }, T0);
    backoff.record('web\0dev', { ok: true }, T0 + 10_000);
    assert.equal(backoff.heldBack('web\0dev', T0 + 10_000), undefined);
  });

  it('doubles from the base after each failure, up to the maximum, and names the last failure', () => {
    const backoff = new RepairBackoff(10_000, 60_000);
    const waits: number[] = [];
    let now = T0;
    for (let i = 0; i < 5; i++) {
      backoff.record('web\0dev', { ok: false, message: `failure ${i + 1}` }, now);
      const held = backoff.heldBack('web\0dev', now)!;
      waits.push(held.next - now);
      assert.equal(held.failures, i + 1);
      assert.equal(held.message, `failure ${i + 1}`);
      assert.ok(backoff.heldBack('web\0dev', held.next - 1));
      assert.equal(backoff.heldBack('web\0dev', held.next), undefined);
      now = held.next;
    }
    assert.deepEqual(waits, [10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('pairs are held back each on its own; an explicit pass holds none back but keeps the count', () => {
    const backoff = new RepairBackoff(10_000, 300_000);
    backoff.record('web\0dev', { ok: false, message: 'x' }, T0);
    assert.equal(backoff.heldBack('web\0test', T0), undefined);
    backoff.retryAllNow();
    assert.equal(backoff.heldBack('web\0dev', T0), undefined);
    backoff.record('web\0dev', { ok: false, message: 'y' }, T0);
    assert.equal(backoff.heldBack('web\0dev', T0)!.next - T0, 20_000);
  });
});
