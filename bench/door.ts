/**
 * Benchmark (issue 22): requests/s and p99 latency through a container door
 * (HAProxy from Berth's door image, host network, changed by exec) against
 * the same HAProxy configuration run as a plain process on this machine (what
 * the process door was), in one run, rounds alternating which goes first; and
 * the time of one runtime change (a backend's weight) on the container door.
 *
 * Run: npm run bench:door -- [--rounds N] [--seconds S] [--clients C] (or, built: node dist/bench/door.js [--rounds N] [--seconds S] [--clients C])
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEngine } from '../src/engine/client.js';
import { ensureSystemImage } from '../src/imaging/system-image.js';
import { DOOR_IMAGE, DOOR_PATHS } from '../src/lb/door-image.js';
import { doorContainerName } from '../src/lb/door-container.js';
import { ensureFrontDoor, freePort, memberRuntime, stopFrontDoor, type DoorPlace } from '../src/lb/front-door.js';
import { haproxyConfig } from '../src/lb/haproxy-config.js';
import { HaproxyRuntime } from '../src/lb/runtime-api.js';
import type { ServerChange } from '../src/lb/sync-plan.js';
import type { FrontDoorSpec } from '../src/lb/model.js';
import { closeStore, openStore } from '../src/store/db.js';
import { findProgram } from '../src/supervisor/program.js';
import { Interruption, invocation, loadNote, machine, median, positiveFlag, rotated, writeSection } from './lib.js';

const ROUNDS = positiveFlag('--rounds') ?? 3;
const SECONDS = positiveFlag('--seconds') ?? 10;
const CLIENTS = positiveFlag('--clients') ?? 8;
const CHANGES = positiveFlag('--changes') ?? 11;

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
}

/** `clients` keep-alive clients, each sending its next request when the last is answered, for `seconds`. */
async function load(port: number, seconds: number, clients: number): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < end) await one();
  }));
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: sorted[Math.floor(sorted.length * 0.5)] ?? 0, p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0, failed };
}

/** The admin socket directly, one connection per command (what berth-door's batch does inside the container). */
function socketTransport(path: string): (commands: readonly string[]) => Promise<string[]> {
  return async (commands) => {
    const answers: string[] = [];
    for (const command of commands) answers.push(await socketCommand(path, command));
    return answers;
  };
}

function socketCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function backend(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('ok'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

async function main(): Promise<void> {
  const engine = connectEngine();
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-door-'));
  const project = `berth-bench-door-${randomBytes(3).toString('hex')}`;
  const backends = [await backend(), await backend()];
  const servers = backends.map((b, i) => ({ name: `web-${i + 1}`, address: '127.0.0.1', port: b.port, weight: 100, state: 'ready' as const }));
  let process_: ChildProcess | undefined;
  let place: DoorPlace | undefined;
  const container: FrontDoorSpec = { id: 'bench-web', bind: { address: '127.0.0.1', port: await freePort() }, servers };
  const interruption = new Interruption();
  const cleanup = interruption.cleanUpOnSignal(async () => {
    process_?.kill('SIGKILL');
    if (place) await stopFrontDoor(container.id, place, 1000).catch(() => {});
    for (const b of backends) b.server.close();
    rmSync(work, { recursive: true, force: true });
  });
  try {
    const db = await openStore(work);
    const image = await ensureSystemImage(DOOR_IMAGE, { engine, db, env: process.env }).finally(() => closeStore(db));
    place = { project, members: [{ host: 'local', engine, local: true }], image: async () => image };
    await ensureFrontDoor(container, place);

    // The process door as it was: the same configuration, HAProxy in the foreground on this machine, its socket in a folder.
    const processPort = await freePort();
    const config = join(work, 'haproxy.cfg');
    writeFileSync(config, haproxyConfig({ ...container, bind: { address: '127.0.0.1', port: processPort } }).replaceAll(DOOR_PATHS.socket, join(work, 'admin.sock')));
    process_ = spawn(findProgram({ name: 'haproxy', what: 'the load balancer program', debianPackage: 'haproxy' }), ['-f', config], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (process_.exitCode !== null) throw new Error(`haproxy -f ${config} exited ${process_.exitCode}`);

    const results = { container: [] as Load[], process: [] as Load[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of rotated(['container', 'process'] as const, round)) {
        interruption.check();
        results[which].push(await load(which === 'container' ? container.bind.port : processPort, SECONDS, CLIENTS));
      }
    }
    const timeChanges = async (runtime: HaproxyRuntime) => {
      const times: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        const t0 = performance.now();
        await runtime.setWeight('web-1', i % 2 ? 100 : 50);
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    const member = memberRuntime(place.members[0]!, doorContainerName(project, container.id));
    const changes = await timeChanges(member);
    const socketChanges = await timeChanges(new HaproxyRuntime(socketTransport(join(work, 'admin.sock'))));
    // A step of a rolling update changes several servers at once: one exec per command (the door before batching) against one exec for all.
    const step = (i: number): ServerChange[] => [
      { op: 'weight', name: 'web-1', weight: i % 2 ? 100 : 60 },
      { op: 'weight', name: 'web-2', weight: i % 2 ? 100 : 40 },
      { op: 'state', name: 'web-2', state: i % 2 ? 'ready' : 'drain' },
      { op: 'state', name: 'web-2', state: 'ready' },
    ];
    const timeSteps = async (apply: (changes: ServerChange[]) => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        interruption.check();
        const t0 = performance.now();
        await apply(step(i));
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    const [perCommand, batched] = [[] as number[], [] as number[]];
    for (let round = 0; round < 2; round++) {
      for (const which of rotated(['per-command', 'batched'] as const, round)) {
        if (which === 'batched') batched.push(await timeSteps((c) => member.apply(c)));
        else perCommand.push(await timeSteps(async (c) => { for (const one of c) await member.apply([one]); }));
      }
    }

    const row = (name: string, loads: Load[]) => `| ${name} | ${median(loads.map((l) => l.perSecond)).toFixed(0)} | ${median(loads.map((l) => l.p50)).toFixed(2)} ms | ${median(loads.map((l) => l.p99)).toFixed(2)} ms | ${loads.reduce((n, l) => n + l.failed, 0)} |`;
    const ratio = median(results.container.map((l) => l.perSecond)) / median(results.process.map((l) => l.perSecond));
    const markdown = [
      '## Front door (issue 22)',
      '',
      `Reproduce: \`npm run bench:door\` (\`${invocation('door')}\`). Machine: ${machine()}; ${loadNote()}.`,
      '',
      `${CLIENTS} keep-alive clients on this machine, each sending its next GET when the last is answered, for ${SECONDS} s, to two node backends on 127.0.0.1; median of ${ROUNDS} rounds alternating which goes first. The same haproxy.cfg (Berth's, lb/haproxy-config.ts) both times.`,
      '',
      '| door | requests/s | p50 | p99 | failed |',
      '|---|---|---|---|---|',
      row('container (Berth\'s door image, host network)', results.container),
      row('process (haproxy -f on this machine: the old process door)', results.process),
      '',
      `Container / process requests/s: **${ratio.toFixed(2)}**. A runtime change (set weight): median of ${CHANGES}, ${changes.toFixed(0)} ms on the container door (one exec through the engine: three API calls and a socat in the container), ${socketChanges.toFixed(1)} ms on the process's admin socket directly.`,
      '',
      `A step's changes to a door (two weights and two states, as one step of a rolling update sends them), median of ${CHANGES} × 2 rounds alternating: one exec per command (the door before batching) ${median(perCommand).toFixed(0)} ms, one exec for all ${median(batched).toFixed(0)} ms (${(median(perCommand) / median(batched)).toFixed(2)}× faster).`,
    ].join('\n');
    console.log(markdown);
    writeSection('door', markdown);
  } finally {
    await cleanup();
    await engine.close();
  }
}

await main();
