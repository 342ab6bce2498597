/** Refusals without a token: the first of a source is written at once, the rest of its minute as one entry with their count. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditInput } from './audit.js';
import { CoalescedRefusals } from './audit-coalesce.js';

const refusal = (action: string, outcome = 'refused 401 this request needs a token'): AuditInput => ({ actor: 'anonymous', action, target: 'web', params: {}, outcome });

describe('coalesced refusals', () => {
  it('writes the first refusal of a source at once and the others of its window as one entry with their count', async () => {
    const written: AuditInput[] = [];
    let now = Date.UTC(2026, 11, 7, 12, 0, 0);
    const refusals = new CoalescedRefusals(async (entry) => void written.push(entry), { now: () => now, windowMs: 60_000 });
    await refusals.record('10.0.0.1', refusal('release'), 401);
    assert.equal(written.length, 1);
    assert.deepEqual(written[0]!.params, { source: '10.0.0.1' });
    for (let i = 0; i < 1500; i++) {
      now += 10;
      await refusals.record('10.0.0.1', refusal(i % 2 ? 'release' : 'scale'), i < 1000 ? 401 : 429);
    }
    await refusals.record('10.0.0.2', refusal('apply'), 401);
    assert.equal(written.length, 2, 'a second source opens its own window');
    await refusals.flush();
    assert.equal(written.length, 3, 'the source with one refusal adds nothing more');
    const summary = written[2]!;
    assert.equal(summary.actor, 'anonymous');
    assert.equal(summary.target, 'from 10.0.0.1');
    assert.deepEqual(summary.params, { source: '10.0.0.1', count: 1500, from: '2026-12-07T12:00:00.000Z', to: '2026-12-07T12:00:15.000Z', statuses: { 401: 1000, 429: 500 }, actions: { scale: 750, release: 750 } });
    assert.equal(summary.outcome, 'refused ×1500 more from 10.0.0.1 within a minute of the entry before (401 ×1000, 429 ×500)');
    // After the window, the next refusal opens a new one and is written at once.
    await refusals.record('10.0.0.1', refusal('release'), 401);
    assert.equal(written.length, 4);
    await refusals.flush();
  });

  it('writes a window when its minute ends, by itself', async () => {
    const written: AuditInput[] = [];
    let wrote: () => void = () => {};
    const summaryWritten = new Promise<void>((resolve) => (wrote = resolve));
    const refusals = new CoalescedRefusals(
      async (entry) => {
        written.push(entry);
        if (written.length === 2) wrote();
      },
      { windowMs: 20 },
    );
    await refusals.record('::1', refusal('release'), 401);
    await refusals.record('::1', refusal('release'), 401);
    // The window's timer is unref'd (a server's listener keeps its process alive); this test has no listener, so it holds the loop itself.
    const holdLoop = setInterval(() => {}, 1000);
    await summaryWritten.finally(() => clearInterval(holdLoop));
    assert.equal((written[1]!.params as { count: number }).count, 1);
  });

  it('counts at most ten distinct actions, the rest as other', async () => {
    const written: AuditInput[] = [];
    const refusals = new CoalescedRefusals(async (entry) => void written.push(entry));
    await refusals.record('10.0.0.3', refusal('first'), 404);
    for (let i = 0; i < 50; i++) await refusals.record('10.0.0.3', refusal(`POST /v1/probe-${i}`), 404);
    await refusals.flush();
    const actions = (written[1]!.params as { actions: Record<string, number> }).actions;
    assert.equal(Object.keys(actions).length, 11);
    assert.equal(actions.other, 40);
  });
});
