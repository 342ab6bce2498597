import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CanarySettings, HealthTiming } from '../config/model.js';
import type { ProbeResult } from '../health/judge.js';
import { decideCanary, observeCanary, openCanaryGate, type CanaryDecision, type CanaryReading, type ServerCounters } from './canary-gate.js';

const health: HealthTiming = { intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 };
const settings: CanarySettings = { watchMs: 20_000, minRequests: 20, tolerance: 0.05, inconclusiveLimit: 3 };
const CANARY = 'api-production-7';
const BASELINE = ['api-production-1', 'api-production-2'];
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

/** One reading per interval (the fake clock): tick i at T0 + 2 s × i. */
interface Tick {
  probe?: (at: number) => ProbeResult;
  /** Cumulative requests and errors per server at this tick, or a failed read. */
  counters?: Record<string, ServerCounters> | { inconclusive: string };
  crashed?: string;
}

/** Feeds ticks until a decision (or the ticks run out): the decision and the tick it came at. */
function run(ticks: Tick[], s: CanarySettings = settings): { decision: CanaryDecision; at: number } {
  let gate = openCanaryGate([CANARY], s, health, T0);
  for (const [i, tick] of ticks.entries()) {
    const at = T0 + i * health.intervalMs;
    const reading: CanaryReading = {
      at,
      instances: { [CANARY]: tick.crashed ? { crashed: tick.crashed } : { probe: (tick.probe ?? passing)(at) } },
      counters: tick.counters ?? traffic(i, { canary: 0, baseline: 0 }),
    };
    gate = observeCanary(gate, reading);
    const decision = decideCanary(gate);
    if (decision.decision !== 'wait') return { decision, at: i };
  }
  return { decision: { decision: 'wait' }, at: ticks.length };
}

const passing = (at: number): ProbeResult => ({ at, ok: true });
const failing = (at: number): ProbeResult => ({ at, ok: false, problem: 'GET http://10.0.0.7:8080/healthz answered 503' });
const slow = (at: number): ProbeResult => ({ at, ok: false, problem: 'GET http://10.0.0.7:8080/healthz: timed out after 1000 ms' });

/** Counters after i ticks: the canary gets 10 requests per tick, each baseline server 20, with these error shares. */
function traffic(i: number, errors: { canary: number; baseline: number }): Record<string, ServerCounters> {
  const base = 1000; // baseline servers served before the window: only what happens in it counts
  return {
    [CANARY]: { requests: 10 * i, errors: Math.round(10 * i * errors.canary) },
    ...Object.fromEntries(BASELINE.map((name) => [name, { requests: base + 20 * i, errors: 300 + Math.round(20 * i * errors.baseline) }])),
  };
}

/** A whole window (20 s at 2 s: ticks 0..10) with these ticks' overrides. */
function windowOf(tick: (i: number) => Tick): Tick[] {
  return Array.from({ length: 11 }, (_, i) => tick(i));
}

const ended = (r: { decision: CanaryDecision }) => r.decision as Exclude<CanaryDecision, { decision: 'wait' }>;

describe('the canary gates', () => {
  it('a clean canary is promoted at the end of the window, not before, with its evidence', () => {
    const r = run(windowOf((i) => ({ counters: traffic(i, { canary: 0, baseline: 0 }) })));
    assert.equal(r.at, 10, 'decided before the end of the watch window');
    const d = ended(r);
    assert.equal(d.decision, 'promote');
    assert.equal(d.reason, 'canary 0.0% errors (0 of 100 requests) vs baseline 0.0% errors (0 of 400 requests) over 20 s (tolerance 5 points)');
    assert.deepEqual([d.evidence.canary.requests, d.evidence.baseline.requests, d.evidence.baseline.servers], [100, 400, BASELINE]);
    assert.deepEqual(d.evidence.window, { from: new Date(T0).toISOString(), to: new Date(T0 + 20_000).toISOString(), ms: 20_000 });
    assert.deepEqual(d.evidence.instances, [{ slot: CANARY, verdict: 'healthy', passed: 11, failed: 0, ignored: 0, inconclusive: 0, worstStreak: 0 }]);
  });

  it('flapping probes never fail it while no unhealthy_after failures come in a row', () => {
    const d = ended(run(windowOf((i) => ({ probe: i % 2 === 0 ? failing : passing, counters: traffic(i, { canary: 0, baseline: 0 }) }))));
    assert.equal(d.decision, 'promote');
    assert.deepEqual([d.evidence.instances[0]!.failed, d.evidence.instances[0]!.worstStreak], [6, 1]);
  });

  it('unhealthy_after consecutive failed probes abort it at once, naming the instance and the probe', () => {
    const r = run(windowOf((i) => ({ probe: i >= 2 && i <= 5 ? failing : passing })));
    assert.equal(r.at, 4, 'aborted before the third failure in a row, or after it');
    assert.equal(ended(r).decision, 'abort');
    assert.equal(ended(r).reason, `canary instance ${CANARY} failed 3 consecutive probes (unhealthy_after 3): GET http://10.0.0.7:8080/healthz answered 503`);
  });

  it('a single slow probe (timeout) among passes is one failure, not an abort', () => {
    const d = ended(run(windowOf((i) => ({ probe: i === 4 ? slow : passing, counters: traffic(i, { canary: 0.01, baseline: 0 }) }))));
    assert.equal(d.decision, 'promote');
    assert.deepEqual([d.evidence.instances[0]!.failed, d.evidence.instances[0]!.lastProblem], [1, 'GET http://10.0.0.7:8080/healthz: timed out after 1000 ms']);
  });

  it('a crash ends it at once: a crash is not a probe', () => {
    const r = run(windowOf((i) => (i === 3 ? { crashed: 'the container exited with code 137' } : {})));
    assert.deepEqual([r.at, ended(r).decision, ended(r).reason], [3, 'abort', `canary instance ${CANARY}: the container exited with code 137`]);
  });

  it('a canary answering 20% 5xx against a clean baseline is aborted at the end of the window, naming both rates', () => {
    const r = run(windowOf((i) => ({ counters: traffic(i, { canary: 0.2, baseline: 0 }) })));
    assert.equal(r.at, 10, 'the error rate is judged at the end of the window');
    assert.equal(ended(r).decision, 'abort');
    assert.equal(ended(r).reason, 'error rate: canary 20.0% errors (20 of 100 requests) vs baseline 0.0% errors (0 of 400 requests) over 20 s (tolerance 5 points)');
    assert.deepEqual([ended(r).evidence.canary.rate, ended(r).evidence.baseline.rate], [0.2, 0]);
  });

  it('a baseline that is failing itself: the canary is judged relative to it, and the reason says the baseline was failing', () => {
    const noWorse = ended(run(windowOf((i) => ({ counters: traffic(i, { canary: 0.2, baseline: 0.2 }) }))));
    assert.equal(noWorse.decision, 'promote');
    assert.match(noWorse.reason, /canary 20\.0% .* vs baseline 20\.0% .*; the baseline was failing itself \(20\.0% errors\)/);
    const worse = ended(run(windowOf((i) => ({ counters: traffic(i, { canary: 0.5, baseline: 0.2 }) }))));
    assert.equal(worse.decision, 'abort');
    assert.match(worse.reason, /^error rate: canary 50\.0% errors \(50 of 100 requests\) vs baseline 20\.0% errors \(80 of 400 requests\).*baseline was failing itself/);
  });

  it('too little traffic at the end aborts it: not enough evidence', () => {
    const r = run(windowOf((i) => ({ counters: traffic(i, { canary: 0, baseline: 0 }) })), { ...settings, minRequests: 150 });
    assert.equal(ended(r).decision, 'abort');
    assert.equal(ended(r).reason, 'not enough evidence: only 100 requests reached the canary over 20 s (min_requests 150); send it more traffic or watch longer');
  });

  it('counter reads that fail are inconclusive and retried; only inconclusive_limit in a row abort it', () => {
    const broken = { inconclusive: "reading the front door's counters: connect ENOENT /state/haproxy.sock" };
    const retried = ended(run(windowOf((i) => ({ counters: i === 3 || i === 4 || i === 10 ? broken : traffic(i, { canary: 0, baseline: 0 }) })).concat([{ counters: traffic(11, { canary: 0, baseline: 0 }) }])));
    assert.equal(retried.decision, 'promote', 'a failed read at the end of the window is retried');
    assert.equal(retried.evidence.inconclusiveReads.counters, 3);
    assert.deepEqual([retried.evidence.window?.ms, retried.evidence.canary.requests], [22_000, 110]);

    const r = run(windowOf((i) => ({ counters: i >= 2 && i <= 4 ? broken : traffic(i, { canary: 0, baseline: 0 }) })));
    assert.deepEqual([r.at, ended(r).decision], [4, 'abort']);
    assert.match(ended(r).reason, /^the front door's counters could not be read 3 times in a row \(inconclusive_limit 3\): .*ENOENT/);
  });

  it('probes Berth could not make are inconclusive: retried, and a failure only after inconclusive_limit in a row', () => {
    const unknown = (at: number): ProbeResult => ({ at, inconclusive: 'exec in 1f2e: the engine did not answer in time' });
    const once = ended(run(windowOf((i) => ({ probe: i === 5 || i === 6 ? unknown : passing, counters: traffic(i, { canary: 0, baseline: 0 }) }))));
    assert.equal(once.decision, 'promote');
    assert.equal(once.evidence.inconclusiveReads.probes, 2);
    const r = run(windowOf((i) => ({ probe: i >= 5 ? unknown : passing })));
    assert.deepEqual([r.at, ended(r).decision], [7, 'abort']);
    assert.match(ended(r).reason, new RegExp(`^canary instance ${CANARY} could not be probed 3 times in a row \\(inconclusive_limit 3\\): exec in 1f2e`));
  });
});
