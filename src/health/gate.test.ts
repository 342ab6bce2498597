/** The gate executor against a fake engine: what ends it, and when it admits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthCheck } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { ContainerState, ExecResult } from '../engine/containers.js';
import { waitHealthy } from './gate.js';

const health: HealthCheck = { kind: 'command', command: ['pg_isready', '-q'], intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 };
const running: ContainerState = {
  id: 'c1',
  name: 'db-dev-1',
  image: 'sha256:1',
  running: true,
  status: 'running',
  exitCode: 0,
  startedAt: new Date().toISOString(),
  restartCount: 0,
  labels: {},
  networks: {},
  ports: {},
} as unknown as ContainerState;

/** An engine whose exec answers from `answers` in turn (the last one repeats) and whose inspect answers `state()`. */
function fakeEngine(answers: (ExecResult | Error)[], state: (inspections: number) => ContainerState = () => running) {
  const calls = { exec: 0, inspect: 0 };
  const engine = {
    containers: { inspect: async () => state(calls.inspect++) },
    exec: async () => {
      const answer = answers[Math.min(calls.exec++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as Engine;
  return { engine, calls };
}
const noTarget = { address: () => undefined };
const exit = (exitCode: number, output = ''): ExecResult => ({ exitCode, output });

describe('the health gate', () => {
  it('admits at the first pass with healthy_after 1, after failures that did not reach unhealthy_after', async () => {
    const { engine, calls } = fakeEngine([exit(2, 'no response'), exit(2, 'no response'), exit(0)]);
    const gate = await waitHealthy(engine, 'c1', health, noTarget, 30_000);
    assert.equal(gate.healthy, true, JSON.stringify(gate));
    assert.equal(calls.exec, 3);
  });

  it('with healthy_after 2, a pass then a failure starts the count again', async () => {
    const { engine, calls } = fakeEngine([exit(0), exit(1), exit(0), exit(0)]);
    const gate = await waitHealthy(engine, 'c1', { ...health, healthyAfter: 2, intervalMs: 1000, timeoutMs: 500 }, noTarget, 30_000);
    assert.equal(gate.healthy, true, JSON.stringify(gate));
    assert.equal(calls.exec, 4);
  });

  it('ends at unhealthy_after consecutive failures, naming the last one', async () => {
    const { engine } = fakeEngine([exit(2, 'localhost:5432 - no response')]);
    const gate = await waitHealthy(engine, 'c1', { ...health, unhealthyAfter: 2, intervalMs: 1000, timeoutMs: 500 }, noTarget, 30_000);
    assert.deepEqual(gate, { healthy: false, reason: 'unhealthy after 2 consecutive failed probes (unhealthy_after 2): health command exited with 2: localhost:5432 - no response' });
  });

  it('a crash ends it at once, whatever the probes say', async () => {
    const { engine } = fakeEngine([exit(1)], (n) => (n === 0 ? running : ({ ...running, running: false, status: 'exited', exitCode: 137 } as ContainerState)));
    assert.deepEqual(await waitHealthy(engine, 'c1', health, noTarget, 30_000), { healthy: false, reason: 'the container exited with code 137' });
  });

  it('probes the engine refuses are inconclusive: they never make it unhealthy, the deadline ends the wait', async () => {
    const { engine, calls } = fakeEngine([new Error('exec in c1: the engine did not answer in time')]);
    const gate = await waitHealthy(engine, 'c1', { ...health, unhealthyAfter: 1 }, noTarget, 1500);
    assert.equal(gate.healthy, false);
    assert.match((gate as { reason: string }).reason, /^not healthy after 2 s: exec in c1: the engine did not answer in time \(0 probe\(s\) passed, 0 failed, \d+ inconclusive\)$/);
    assert.ok(calls.exec >= 2, `probed ${calls.exec} time(s)`);
  });
});
