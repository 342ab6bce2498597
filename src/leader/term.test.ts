import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { acting, afterClaim, afterRenew, afterStepDown, leaderTiming, nextAction, type LeaderState } from './term.js';

const timing = leaderTiming(9000, 3000); // acts for 6 s after a renewal was sent, retries each second

describe('the leader term (pure, on an injected clock)', () => {
  it('a follower claims at once, then once per retry interval', () => {
    assert.deepEqual(nextAction({ role: 'follower' }, 100, timing), { action: 'claim', at: 100 });
    const led = afterClaim(100, 'led');
    assert.deepEqual(nextAction(led, 150, timing), { action: 'claim', at: 1100 });
    assert.deepEqual(nextAction(afterClaim(100, 'failed'), 5000, timing), { action: 'claim', at: 5000 });
  });

  it('a claim won leads from when it was sent: it acts for two thirds of the TTL and renews every interval', () => {
    const leader = afterClaim(1000, { epoch: 7 });
    assert.deepEqual(leader, { role: 'leader', epoch: 7, renewedAt: 1000, triedAt: 1000 });
    assert.equal(acting(leader, 6999, timing), true);
    assert.equal(acting(leader, 7000, timing), false);
    assert.deepEqual(nextAction(leader, 1200, timing), { action: 'renew', at: 4000 });
  });

  it('each renewal moves the deadline to when it was sent, not to when it came back', () => {
    const renewed = afterRenew(afterClaim(0, { epoch: 1 }), 3000, 'renewed');
    assert.equal(acting(renewed, 8999, timing), true);
    assert.equal(acting(renewed, 9000, timing), false);
    assert.deepEqual(nextAction(renewed, 3400, timing), { action: 'renew', at: 6000 });
  });

  it('failed renewals are retried each second, and the leader steps down at its deadline before anyone can take over', () => {
    let state: LeaderState = afterClaim(0, { epoch: 2 });
    state = afterRenew(state, 3000, 'failed');
    assert.deepEqual(nextAction(state, 3100, timing), { action: 'renew', at: 4000 });
    state = afterRenew(state, 4000, 'failed');
    state = afterRenew(state, 5000, 'failed');
    // The next retry (6000) would come at the deadline: the step-down comes first.
    assert.deepEqual(nextAction(state, 5100, timing), { action: 'step-down', at: 6000 });
    assert.equal(acting(state, 5999, timing), true);
    assert.deepEqual(nextAction(state, 6000, timing), { action: 'step-down', at: 6000 });
    // The step-down (6 s after the last renewal was sent) comes 3 s before the lease can expire for the others (9 s).
    assert.ok(0 + timing.actMs < 0 + timing.ttlMs);
    assert.deepEqual(afterStepDown(6000), { role: 'follower', triedAt: 6000 });
  });

  it('a renewal that finds a newer epoch makes it a follower at once', () => {
    const state = afterRenew(afterClaim(0, { epoch: 3 }), 3000, 'lost');
    assert.equal(state.role, 'follower');
    assert.equal(acting(state, 3001, timing), false);
  });

  it('a late answer to an older renewal never moves the deadline back', () => {
    const state = afterRenew(afterRenew(afterClaim(0, { epoch: 1 }), 3000, 'renewed'), 2000, 'renewed');
    assert.equal(state.role === 'leader' && state.renewedAt, 3000);
  });

  it('the defaults: a 10 s TTL renewed every 3.3 s, acting for 6.6 s; a renewal not before the step-down is refused', () => {
    assert.deepEqual(leaderTiming(), { ttlMs: 10_000, renewMs: 3333, actMs: 6666, retryMs: 1000 });
    assert.throws(() => leaderTiming(9000, 6000), (e: unknown) => isBerthError(e) && e.kind === 'invalid' && /--leader-renew/.test(e.message));
    assert.throws(() => leaderTiming(100), (e: unknown) => isBerthError(e) && /--leader-ttl/.test(e.message));
  });
});
