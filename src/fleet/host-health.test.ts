import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FAILURE } from '../config/model.js';
import { firstHealth, nextHealth, takesWork, undrained, type HealthChange, type HostHealth, type Probe } from './host-health.js';

const settings = { ...DEFAULT_FAILURE, intervalMs: 1000, suspectAfter: 2, downAfter: 4, settleMs: 10_000 };

/** Feeds probes one interval apart from `start`; returns the last health and every change. */
function feed(start: HostHealth, outcomes: readonly boolean[], from = 1000): { health: HostHealth; changes: HealthChange[] } {
  let health = start;
  const changes: HealthChange[] = [];
  outcomes.forEach((ok, i) => {
    const probe: Probe = ok ? { ok, at: from + i * 1000 } : { ok, at: from + i * 1000, error: 'connection refused' };
    const next = nextHealth(health, probe, settings);
    health = next.health;
    if (next.change) changes.push(next.change);
  });
  return { health, changes };
}

const path = (changes: HealthChange[]) => changes.map((c) => `${c.from}->${c.to}@${c.at}`);

describe('a host\'s health from its pings', () => {
  it('answering pings keep it up and change nothing', () => {
    const { health, changes } = feed(firstHealth(0), [true, true, true]);
    assert.deepEqual([health.state, health.since, health.misses, changes], ['up', 0, 0, []]);
  });

  it('suspect after suspect_after misses, down after down_after, with the time of each change', () => {
    const { health, changes } = feed(firstHealth(0), [false, false, false, false, false]);
    assert.deepEqual(path(changes), ['up->suspect@2000', 'suspect->down@4000']);
    assert.deepEqual([health.state, health.since, health.misses, health.error], ['down', 4000, 5, 'connection refused']);
    assert.equal(changes[1]!.reason, '4 ping(s) in a row missed, 1000 ms apart: connection refused');
  });

  it('a suspect host that answers is up again; its misses start over', () => {
    const { health, changes } = feed(firstHealth(0), [false, false, true, false, false, false]);
    assert.deepEqual(path(changes), ['up->suspect@2000', 'suspect->up@3000', 'up->suspect@5000']);
    assert.equal(health.misses, 3, 'three misses since the answer: not yet down');
  });

  it('a down host that answers is returning, and up only once it answered for the settle time', () => {
    const down = feed(firstHealth(0), [false, false, false, false]).health;
    const { health, changes } = feed(down, Array(12).fill(true), 10_000);
    assert.deepEqual(path(changes), ['down->returning@10000', 'returning->up@20000']);
    assert.equal(health.state, 'up');
    assert.equal(changes[0]!.reason, 'it answers again; it gets no new instances until it has answered for 10 s');
  });

  it('a returning host that misses one ping is down again at once; the settle time starts over', () => {
    const down = feed(firstHealth(0), [false, false, false, false]).health;
    const { health, changes } = feed(down, [true, true, true, false, true, true], 10_000);
    assert.deepEqual(path(changes), ['down->returning@10000', 'returning->down@13000', 'down->returning@14000']);
    assert.deepEqual([health.state, health.answeringSince], ['returning', 14_000]);
  });

  it('flapping down and up three times: never up in between, so it never takes work', () => {
    let health = firstHealth(0);
    const seen: boolean[] = [];
    for (let round = 0; round < 3; round++) {
      health = feed(health, [false, false, false, false, true, true], round * 10_000).health;
      seen.push(takesWork(health));
    }
    assert.deepEqual([health.state, seen], ['returning', [false, false, false]]);
  });

  it('an operator undrains a returning host: up at once', () => {
    const returning = feed(feed(firstHealth(0), [false, false, false, false]).health, [true], 10_000).health;
    const { health, change } = undrained(returning, 11_000);
    assert.deepEqual([health.state, health.since, change?.reason], ['up', 11_000, 'undrained by an operator']);
    assert.deepEqual(undrained(health, 12_000), { health }, 'an up host stays as it is');
  });

  it('takes work when up or suspect (or never watched), not when down or returning', () => {
    const at = (state: HostHealth['state']): HostHealth => ({ state, since: 0, misses: 0 });
    assert.deepEqual([undefined, at('up'), at('suspect'), at('down'), at('returning')].map(takesWork), [true, true, true, false, false]);
  });
});
