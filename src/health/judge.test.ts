import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthTiming } from '../config/model.js';
import { admitted, judge, startJudging, timingOf, type Judgement, type ProbeResult } from './judge.js';

const timing: HealthTiming = { intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 };
const pass = (at: number): ProbeResult => ({ at, ok: true });
const fail = (at: number, problem = 'GET http://10.0.0.5:8080/healthz answered 503'): ProbeResult => ({ at, ok: false, problem });

/** Feeds the results in order and returns each verdict after it. */
function verdicts(results: ProbeResult[], s: HealthTiming = timing, from: Judgement = startJudging(0)): string[] {
  let j = from;
  return results.map((r) => (j = judge(j, r, s)).verdict);
}

describe('the health judge', () => {
  it('is healthy after healthy_after consecutive passes; a failure in between starts the count again', () => {
    const s = { ...timing, healthyAfter: 3 };
    assert.deepEqual(verdicts([pass(0), pass(2000), fail(4000), pass(6000), pass(8000), pass(10_000)], s), ['starting', 'starting', 'starting', 'starting', 'starting', 'healthy']);
  });

  it('is unhealthy only after unhealthy_after consecutive failures; a pass resets the count', () => {
    const healthy = judge(startJudging(0), pass(0), timing);
    assert.deepEqual(verdicts([fail(2000), fail(4000), pass(6000), fail(8000), fail(10_000), fail(12_000)], timing, healthy), ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']);
  });

  it('does not count failures in the start period, counting from when the container started', () => {
    const s = { ...timing, startPeriodMs: 10_000 };
    let j = startJudging(1000);
    for (const at of [1000, 3000, 5000, 7000, 9000]) j = judge(j, fail(at), s);
    assert.deepEqual([j.verdict, j.failures, j.totals.ignored], ['starting', 0, 5]);
    for (const at of [11_000, 13_000, 15_000]) j = judge(j, fail(at), s);
    assert.deepEqual([j.verdict, j.failures], ['unhealthy', 3]);
  });

  it('counts at most one failure per interval, so fast probing while starting does not make an instance unhealthy sooner', () => {
    let j = startJudging(0);
    for (let at = 0; at < 4000; at += 100) j = judge(j, fail(at), timing);
    assert.deepEqual([j.verdict, j.failures], ['starting', 2]);
    j = judge(j, fail(4000), timing);
    assert.equal(j.verdict, 'unhealthy');
    assert.match(j.lastProblem!, /answered 503/);
  });

  it('admits only after min_healthy without an unhealthy judgement', () => {
    const s = { ...timing, healthyAfter: 2, minHealthyMs: 5000 };
    let j = judge(judge(startJudging(0), pass(0), s), pass(2000), s);
    assert.deepEqual([j.verdict, j.healthySince], ['healthy', 2000]);
    assert.equal(admitted(j, 4000, s), false);
    j = judge(j, fail(4000), s);
    assert.equal(admitted(j, 7000, s), true, 'one failure below unhealthy_after keeps it healthy since 2000');
    for (const at of [6000, 8000]) j = judge(j, fail(at), s);
    assert.equal(j.verdict, 'unhealthy');
    assert.equal(admitted(j, 9000, s), false);
    j = judge(judge(j, pass(10_000), s), pass(12_000), s);
    assert.deepEqual([j.verdict, j.healthySince, admitted(j, 16_000, s), admitted(j, 17_000, s)], ['healthy', 12_000, false, true]);
  });

  it('an inconclusive probe changes no count', () => {
    let j = judge(startJudging(0), fail(0), timing);
    j = judge(j, { at: 2000, inconclusive: 'the engine did not answer' }, timing);
    assert.deepEqual([j.failures, j.passes, j.inconclusive, j.verdict], [1, 0, 1, 'starting']);
  });

  it('fills in defaults for settings recorded before healthy_after existed (retries is unhealthy_after)', () => {
    assert.deepEqual(timingOf({ intervalMs: 5000, timeoutMs: 2000, retries: 4, startPeriodMs: 0 }), { intervalMs: 5000, timeoutMs: 2000, healthyAfter: 1, unhealthyAfter: 4, minHealthyMs: 0, startPeriodMs: 0 });
  });
});
