/** The gate executor against a fake engine, on the test's clock: what ends it, and when it admits. */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { HealthCheck } from '../config/model.js';
import type { ExecResult } from '../engine/containers.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { waitHealthy } from './gate.js';

const health: HealthCheck = { kind: 'command', command: ['pg_isready', '-q'], intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 };

/** An engine running db-dev-1, whose exec answers from `answers` in turn (the last one repeats); `during(n)` runs as the n-th exec runs. */
async function fakeEngine(answers: (ExecResult | Error)[], during: (engine: FakeEngine, n: number) => void = () => undefined) {
  const engine = new FakeEngine();
  engine.addImage({ tags: ['db:1'] });
  const id = await engine.containers.create({ name: 'db-dev-1', Image: 'db:1' });
  await engine.containers.start(id);
  const calls = { exec: 0 };
  engine.scriptExec(() => {
    const n = calls.exec++;
    during(engine, n);
    const answer = answers[Math.min(n, answers.length - 1)]!;
    if (answer instanceof Error) throw answer;
    return answer;
  });
  return { engine, id, calls };
}
const noTarget = { address: () => undefined };

/**
 * Runs the gate with setTimeout and Date on the test's clock (node:test's mock timers), moved on
 * 10 ms at a time whenever the gate is waiting: its probes and intervals in order, in no real time.
 */
async function onTestClock<T>(t: TestContext, gate: () => Promise<T>): Promise<T> {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  let settled = false;
  const result = gate().finally(() => (settled = true));
  while (!settled) {
    // Let every promise the gate is on settle (the fake engine answers at once), then move time on.
    await new Promise((resolve) => setImmediate(resolve));
    if (!settled) t.mock.timers.tick(10);
  }
  return result;
}
const exit = (exitCode: number, output = ''): ExecResult => ({ exitCode, output });

describe('the health gate', () => {
  it('admits at the first pass with healthy_after 1, after failures that did not reach unhealthy_after', async (t) => {
    const { engine, id, calls } = await fakeEngine([exit(2, 'no response'), exit(2, 'no response'), exit(0)]);
    const gate = await onTestClock(t, () => waitHealthy(engine, id, health, noTarget, 30_000));
    assert.equal(gate.healthy, true, JSON.stringify(gate));
    assert.equal(calls.exec, 3);
  });

  it('with healthy_after 2, a pass then a failure starts the count again', async (t) => {
    const { engine, id, calls } = await fakeEngine([exit(0), exit(1), exit(0), exit(0)]);
    const gate = await onTestClock(t, () => waitHealthy(engine, id, { ...health, healthyAfter: 2, intervalMs: 1000, timeoutMs: 500 }, noTarget, 30_000));
    assert.equal(gate.healthy, true, JSON.stringify(gate));
    assert.equal(calls.exec, 4);
  });

  it('ends at unhealthy_after consecutive failures, naming the last one', async (t) => {
    const { engine, id } = await fakeEngine([exit(2, 'localhost:5432 - no response')]);
    const gate = await onTestClock(t, () => waitHealthy(engine, id, { ...health, unhealthyAfter: 2, intervalMs: 1000, timeoutMs: 500 }, noTarget, 30_000));
    assert.deepEqual(gate, { healthy: false, reason: 'unhealthy after 2 consecutive failed probes (unhealthy_after 2): health command exited with 2: localhost:5432 - no response' });
  });

  it('a crash ends it at once, whatever the probes say', async (t) => {
    const { engine, id } = await fakeEngine([exit(1)], (fake, n) => {
      if (n === 0) fake.exit('db-dev-1', 137);
    });
    assert.deepEqual(await onTestClock(t, () => waitHealthy(engine, id, health, noTarget, 30_000)), { healthy: false, reason: 'the container exited with code 137' });
  });

  it('probes the engine refuses are inconclusive: they never make it unhealthy, the deadline ends the wait', async (t) => {
    const { engine, id, calls } = await fakeEngine([new Error('exec in db-dev-1: the engine did not answer in time')]);
    const gate = await onTestClock(t, () => waitHealthy(engine, id, { ...health, unhealthyAfter: 1 }, noTarget, 1500));
    assert.equal(gate.healthy, false);
    assert.match((gate as { reason: string }).reason, /^not healthy after 2 s: exec in db-dev-1: the engine did not answer in time \(0 probe\(s\) passed, 0 failed, \d+ inconclusive\)$/);
    assert.ok(calls.exec >= 2, `probed ${calls.exec} time(s)`);
  });
});
