import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyLimit } from './latency-limit.js';

const options = { initial: 4, min: 2, max: 10, tolerance: 2 };

describe('LatencyLimit', () => {
  it('grows by one per answer while the engine answers within twice its running average, up to its max', () => {
    const limit = new LatencyLimit(options);
    for (const ms of [100, 150, 199, 120]) limit.sample(ms);
    assert.equal(limit.limit, 8);
    for (let i = 0; i < 10; i++) limit.sample(100);
    assert.equal(limit.limit, 10);
  });

  it('shrinks in proportion when the engine answers slower than twice its running average, down to its min', () => {
    const limit = new LatencyLimit({ ...options, initial: 10 });
    limit.sample(100);
    assert.equal(limit.limit, 10);
    limit.sample(400);
    assert.equal(limit.limit, 5, '10 × 200 / 400');
    limit.sample(10_000);
    assert.equal(limit.limit, 2);
  });

  it('one fast answer on a busy engine does not make the usual ones count as slow', () => {
    const limit = new LatencyLimit({ ...options, max: 64 });
    for (const ms of [1000, 20, 1000, 1200, 900, 1100]) limit.sample(ms);
    assert.equal(limit.limit, 10, 'grew with each answer');
  });

  it('never runs more tasks at once than its limit, and starts waiting ones as the limit grows', async () => {
    const limit = new LatencyLimit({ ...options, initial: 2 });
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const tasks = Array.from({ length: 8 }, () =>
      limit.run(async (sample) => {
        running++;
        assert.ok(running <= limit.limit, `${running} running with a limit of ${limit.limit}`);
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        sample(100);
        running--;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(running, 2);
    // Each task that answers fast lets one more start: after it ends, and through the grown limit.
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.equal(running, 3, 'limit 3 after one fast answer');
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(tasks);
    assert.ok(most > 2, 'more ran at once once the limit grew');
    assert.equal(running, 0);
  });
});
