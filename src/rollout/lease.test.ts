import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeHolder } from './lease.js';

describe('the lease holder, as a conflict names it', () => {
  const lock = { service: 'web', environment: 'production', rollout: 0, pid: 4242, hostname: 'ci-7', acquiredAt: Date.parse('2026-12-01T20:00:00Z') };

  it('a holder still planning names no rollout number (never "rollout #0")', () => {
    const text = describeHolder(lock, undefined);
    assert.doesNotMatch(text, /#0/);
    assert.equal(text, 'a rollout being planned since 2026-12-01T20:00:00.000Z (not recorded yet), berth process 4242 on ci-7');
  });

  it('a recorded rollout is named with its kind, release and actor', () => {
    const rollout = { id: 12, service: 'web', environment: 'production', release: 3, previous: 2, kind: 'promote' as const, forced: false, status: 'running' as const, message: '', actor: 'ana', plan: '{}', done: 1, startedAt: lock.acquiredAt, finishedAt: null, evidence: '{}' };
    assert.equal(describeHolder({ ...lock, rollout: 12 }, rollout), 'rollout #12 (promote of release 3, by ana, started 2026-12-01T20:00:00.000Z), berth process 4242 on ci-7');
  });
});
