import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LbServer } from './model.js';
import { planServerChanges, sameAddress, type ObservedServer } from './sync-plan.js';

const server = (n: number, extra: Partial<LbServer> = {}): LbServer => ({ name: `web-production-${n}`, address: `10.88.0.${n}`, port: 8080, weight: 100, state: 'ready', ...extra });
const seen = (n: number, extra: Partial<ObservedServer> = {}): ObservedServer => ({ name: `web-production-${n}`, address: `10.88.0.${n}:8080`, weight: 100, state: 'ready', ...extra });

describe('planServerChanges', () => {
  it('changes nothing when HAProxy has the spec\'s servers', () => {
    assert.deepEqual(planServerChanges([seen(1), seen(2)], [server(1), server(2)]), []);
  });

  it('adds first, then changes, then removes', () => {
    assert.deepEqual(planServerChanges([seen(1), seen(2), seen(3)], [server(1, { weight: 10 }), server(3), server(4)]), [
      { op: 'add', server: server(4) },
      { op: 'weight', name: 'web-production-1', weight: 10 },
      { op: 'remove', name: 'web-production-2' },
    ]);
  });

  it('gives a server its weight before it becomes ready, and takes it out before changing its weight', () => {
    assert.deepEqual(planServerChanges([seen(1, { state: 'drain', weight: 0 }), seen(2)], [server(1, { weight: 30 }), server(2, { state: 'drain', weight: 5 })]), [
      { op: 'weight', name: 'web-production-1', weight: 30 },
      { op: 'state', name: 'web-production-1', state: 'ready' },
      { op: 'state', name: 'web-production-2', state: 'drain' },
      { op: 'weight', name: 'web-production-2', weight: 5 },
    ]);
  });

  it('moves a server whose address or port changed', () => {
    assert.deepEqual(planServerChanges([seen(1, { address: '10.88.0.1:9090' })], [server(1)]), [{ op: 'address', name: 'web-production-1', address: '10.88.0.1', port: 8080 }]);
  });

  it('turns a restarted HAProxy\'s weight-0 server into a draining one', () => {
    // The config has no drain state: a draining server is written with weight 0.
    assert.deepEqual(planServerChanges([seen(1, { weight: 0 })], [server(1, { state: 'drain' })]), [
      { op: 'state', name: 'web-production-1', state: 'drain' },
      { op: 'weight', name: 'web-production-1', weight: 100 },
    ]);
  });

  it('compares HAProxy\'s addresses, IPv6 with brackets', () => {
    assert.equal(sameAddress('[fd00::1]:8080', 'fd00::1', 8080), true);
    assert.equal(sameAddress('10.0.0.1:8080', '10.0.0.1', 8081), false);
    assert.equal(sameAddress('', '10.0.0.1', 8080), false);
  });
});
