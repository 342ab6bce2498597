import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunContext } from '../runtime/context.js';
import { startReconciler, type ReconcilerEvent } from './loop.js';

/** Resolves once `check` holds, or fails after the deadline. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('startReconciler (without a project: getRun answers undefined or throws)', () => {
  it('runs a pass at once, and without a run reports nothing to do', async () => {
    let asked = 0;
    const reconciler = startReconciler(async () => (asked++, undefined), { intervalMs: 600_000 });
    try {
      await until('the first pass', () => asked === 1);
      const report = await reconciler.runNow();
      assert.deepEqual([report.actions, report.drift], [[], []]);
    } finally {
      await reconciler.stop();
    }
  });

  it('never runs two passes at once: asks during a pass make one more pass after it', async () => {
    let asked = 0;
    const reconciler = startReconciler(async () => (asked++, undefined), { intervalMs: 600_000 });
    try {
      await reconciler.runNow();
      const before = asked;
      const first = reconciler.runNow();
      const [second, third] = [reconciler.runNow(), reconciler.runNow()];
      assert.equal(second, third, 'asks during a pass share the one that follows it');
      await Promise.all([first, second, third]);
      assert.equal(asked - before, 2);
    } finally {
      await reconciler.stop();
    }
  });

  it('a pass that throws is reported, and the loop goes on', async () => {
    let calls = 0;
    const events: ReconcilerEvent[] = [];
    const reconciler = startReconciler(
      async () => {
        calls++;
        if (calls <= 2) throw new Error(`store gone ${calls}`);
        return undefined;
      },
      { intervalMs: 20, emit: (e) => events.push(e) },
    );
    try {
      await until('two failures reported and a pass after them', () => calls >= 3);
      assert.deepEqual(
        events.filter((e) => e.type === 'reconcile-failed').map((e) => e.type === 'reconcile-failed' && e.message),
        ['store gone 1', 'store gone 2'],
      );
      const report = await reconciler.runNow();
      assert.deepEqual(report.actions, []);
    } finally {
      await reconciler.stop();
    }
  });

  it('runNow rejects with the failure of the pass it asked for', async () => {
    const reconciler = startReconciler(async (): Promise<RunContext> => {
      throw new Error('broken');
    }, { intervalMs: 600_000, emit: () => {} });
    try {
      await assert.rejects(reconciler.runNow(), /broken/);
    } finally {
      await reconciler.stop();
    }
  });

  it('stop waits for the pass that runs; afterwards nothing runs and runNow is refused', async () => {
    let asked = 0;
    const reconciler = startReconciler(async () => (asked++, undefined), { intervalMs: 5 });
    await until('a few passes', () => asked >= 3);
    await reconciler.stop();
    const stoppedAt = asked;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(asked, stoppedAt, 'no pass after stop');
    await assert.rejects(reconciler.runNow(), /stopped/);
  });
});
