/**
 * Waits until a new instance is healthy, probing it from Berth's side every
 * 100 ms (the engine's own health check runs far less often and is kept for
 * `berth ps`); gives up when the container exits or the deadline passes.
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthCheck } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import { sleep } from '../time.js';

export interface ProbeTarget {
  /** Where Berth reaches the instance's port `containerPort`: its own address, or the host's published port. */
  address(containerPort: number): { host: string; port: number } | undefined;
}

export type GateResult = { healthy: true; ms: number } | { healthy: false; reason: string };

const POLL_MS = 100;
/** Without a health check, an instance that stays up this long counts as started. */
const SETTLE_MS = 1000;

/** `restartsBefore`: the engine's restart count when the wait begins; any restart after it means the instance crashed. */
export async function waitHealthy(engine: Engine, id: string, health: HealthCheck | undefined, target: ProbeTarget, timeoutMs: number, restartsBefore = 0): Promise<GateResult> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastProblem = 'no answer yet';
  let lastStateCheck = 0;
  while (Date.now() < deadline) {
    if (Date.now() - lastStateCheck >= 250 || !health) {
      lastStateCheck = Date.now();
      const state = await engine.containers.inspect(id);
      if (!state) return { healthy: false, reason: 'the container disappeared' };
      const restarts = state.restartCount - restartsBefore;
      if (!state.running || state.status === 'restarting' || restarts > 0) {
        return { healthy: false, reason: `the container exited with code ${state.exitCode}${restarts > 0 ? ` (restarted ${restarts} time(s))` : ''}` };
      }
      if (!health && Date.now() - started >= SETTLE_MS) return { healthy: true, ms: Date.now() - started };
    }
    if (health) {
      const problem = await probeOnce(engine, id, health, target).catch((error: Error) => error.message);
      if (problem === undefined) return { healthy: true, ms: Date.now() - started };
      lastProblem = problem;
    }
    await sleep(POLL_MS);
  }
  return { healthy: false, reason: `not healthy after ${Math.round(timeoutMs / 1000)} s: ${lastProblem}` };
}

/** undefined when healthy, else what went wrong. */
async function probeOnce(engine: Engine, id: string, health: HealthCheck, target: ProbeTarget): Promise<string | undefined> {
  if (health.kind === 'command') {
    const result = await engine.containers.exec(id, health.command);
    return result.exitCode === 0 ? undefined : `health command exited with ${result.exitCode}: ${result.output.trim().split('\n').pop() ?? ''}`;
  }
  const to = target.address(health.port);
  if (!to) return `port ${health.port} is not published`;
  return health.kind === 'tcp' ? tcpProbe(to.host, to.port, health.timeoutMs) : httpProbe(to.host, to.port, health.path, health.timeoutMs);
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(undefined)));
    socket.once('timeout', () => (socket.destroy(), resolve(`TCP ${host}:${port}: timed out`)));
    socket.once('error', (error) => resolve(`TCP ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
  });
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? undefined : `GET http://${host}:${port}${path} answered ${status}`);
    });
    req.once('timeout', () => (req.destroy(), resolve(`GET http://${host}:${port}${path}: timed out`)));
    req.once('error', (error) => resolve(`GET http://${host}:${port}${path}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    req.end();
  });
}
