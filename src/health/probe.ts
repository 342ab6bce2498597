/**
 * Berth's probes, from its own side: HTTP and TCP at the address where Berth
 * reaches the instance, a command through the engine's exec. Each returns a
 * ProbeResult for the judge; a probe Berth could not make is inconclusive.
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import type { HealthCheck } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { ProbeResult } from './judge.js';

export interface ProbeTarget {
  /** Where Berth reaches the instance's port `containerPort`: its own address, or the host's published port. */
  address(containerPort: number): { host: string; port: number } | undefined;
}

type Outcome = { ok: true } | { ok: false; problem: string } | { inconclusive: string };

export async function probe(engine: Engine, id: string, health: HealthCheck, target: ProbeTarget, now: () => number = Date.now): Promise<ProbeResult> {
  const at = now();
  const outcome = await probeOnce(engine, id, health, target).catch((error: Error): Outcome => ({ inconclusive: error.message }));
  return { at, ...outcome };
}

async function probeOnce(engine: Engine, id: string, health: HealthCheck, target: ProbeTarget): Promise<Outcome> {
  if (health.kind === 'command') return commandProbe(engine, id, health.command, health.timeoutMs);
  const to = target.address(health.port);
  if (!to) return { inconclusive: `port ${health.port} is not published` };
  const problem = health.kind === 'tcp' ? await tcpProbe(to.host, to.port, health.timeoutMs) : await httpProbe(to.host, to.port, health.path, health.timeoutMs);
  return problem === undefined ? { ok: true } : { ok: false, problem };
}

/** An engine that refuses the exec is inconclusive (it says nothing about the service); a command that exits non-zero or overruns fails. */
async function commandProbe(engine: Engine, id: string, command: string[], timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const result = await Promise.race([engine.exec(id, command), overrun]);
    if (result === 'timeout') return { ok: false, problem: `health command ${command.join(' ')}: timed out after ${timeoutMs} ms` };
    return result.exitCode === 0 ? { ok: true } : { ok: false, problem: `health command exited with ${result.exitCode}: ${result.output.trim().split('\n').pop() ?? ''}` };
  } finally {
    clearTimeout(timer);
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => (socket.destroy(), resolve(undefined)));
    socket.once('timeout', () => (socket.destroy(), resolve(`TCP ${host}:${port}: timed out after ${timeoutMs} ms`)));
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
    req.once('timeout', () => (req.destroy(), resolve(`GET http://${host}:${port}${path}: timed out after ${timeoutMs} ms`)));
    req.once('error', (error) => resolve(`GET http://${host}:${port}${path}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    req.end();
  });
}
