/**
 * Server benchmark (issue 12), in one run:
 *  1. the API's overhead on a no-op release: the same `berth release web --env dev`
 *     of the build the environment already runs (two instances of busybox httpd),
 *     whole CLI process, in-process (no BERTH_SERVER) and through a `berth server`
 *     this benchmark starts as a child process (its own --state, the project
 *     uploaded with `berth apply`, BERTH_SERVER and BERTH_TOKEN set), alternating
 *     which goes first, ROUNDS rounds. Two projects with the same berth.yaml (one
 *     per path), so the two stores never manage the same containers.
 *  2. GET /v1/instances with 1,000 instances recorded (50 services × 20 over
 *     HOSTS hosts): the slots saved with the deploy's store functions, the hosts'
 *     engines FakeEngines (src/testing/fake-engine.ts, kept honest by the engine
 *     contract suite; no container runs) holding the containers the slots would
 *     have, through ServerCore's `connect` seam; the app built in this process and asked over
 *     real HTTP (node:http keep-alive), sequentially and 8 at a time, against
 *     `fleetInstances(run, {})` called directly, in alternating blocks.
 * Removes everything it made, on failure and on Ctrl-C too. Writes its section of BENCHMARKS.md.
 * Run: npm run bench:server -- [--rounds N] [--requests N] [--hosts N]
 */
import { releaseSteps } from './release-steps.js';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { createToken } from '../src/access/tokens.js';
import { applyBundle } from '../src/apply/versions.js';
import { collectBundle } from '../src/apply/bundle.js';
import { fleetInstances } from '../src/runtime/fleet-instances.js';
import { freePort } from '../src/lb/front-door.js';
import { buildApp } from '../src/server/app.js';
import { ServerCore } from '../src/server/core.js';
import { openStore, type Store, closeStore } from '../src/store/db.js';
import { FakeEngine } from '../src/testing/fake-engine.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../src/testing/fixture.js';
import { sleep } from '../src/time.js';
import { hostName, recordInstances, serviceName } from './fake-fleet.js';
import { BERTH, Interruption, invocation, machine, median, ms, positiveFlag, rotated, spawnTimed, writeSection, type Finished } from './lib.js';

const ROUNDS = positiveFlag('--rounds') ?? 15;
const REQUESTS = positiveFlag('--requests') ?? 2000;
const HOSTS = positiveFlag('--hosts') ?? 50;
const SERVICES = 50;
const PER_SERVICE = 20;
const INSTANCES = SERVICES * PER_SERVICE;
const CONCURRENCY = 8;
/** The requests of each kind are made in this many blocks, alternating which kind goes first. */
const BLOCKS = 4;
const WARMUP = Math.min(100, REQUESTS);
const REPLICAS = 2;
const ENVIRONMENT = 'dev';
const SETTLE_MS = 500;
const COMMAND_TIMEOUT_MS = 300_000;
/** Generous: on a machine at load 60 a `berth server` took over a minute to listen. */
const SERVER_START_MS = 300_000;

const PATHS = ['in-process', 'server'] as const;
type Path = (typeof PATHS)[number];

const interruption = new Interruption();
/** Commands this run started and that may still run: stopped before the clean-up. */
const live = new Set<ChildProcess>();

interface Made {
  fixtures: Fixture[];
  server?: ChildProcess;
  serverState?: string;
  app?: FastifyInstance;
  db?: Store;
  work?: string;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Sub-millisecond figures need decimals. */
const fine = (value: number) => (Math.abs(value) < 10 ? `${value.toFixed(2)} ms` : ms(value));
const signed = (value: number, format: (v: number) => string) => `${value < 0 ? '−' : '+'}${format(Math.abs(value))}`;

/** Runs a command without blocking the event loop (the server child's pipes); throws unless it exits 0. */
async function run(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const { child, done } = spawnTimed('node', [BERTH, ...args], { env });
  live.add(child);
  const timer = setTimeout(() => child.kill('SIGTERM'), COMMAND_TIMEOUT_MS);
  try {
    const finished = await done;
    if (finished.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${finished.code ?? finished.signal}:\n${finished.stdout}\n${finished.stderr}`);
    return finished;
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

// --- 1. the no-op release ---------------------------------------------------------

interface ServerProcess {
  child: ChildProcess;
  url: string;
  token: string;
}

/** `berth server` on a free loopback port with its own state; resolves once it listens, with the admin token it printed. */
async function startServerProcess(state: string, env: NodeJS.ProcessEnv, made: Made): Promise<ServerProcess> {
  const port = await freePort('127.0.0.1');
  let token: string | undefined;
  let resolveUrl: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => (resolveUrl = resolve));
  const { child, done } = spawnTimed('node', [BERTH, 'server', '--listen', `127.0.0.1:${port}`, '--state', state], {
    env,
    onLine: (line) => {
      const admin = /^admin token: (\S+)$/.exec(line);
      if (admin) token = admin[1];
      const url = /^berth server listening on (\S+)/.exec(line);
      if (url) resolveUrl(url[1]!);
    },
  });
  made.server = child;
  const ended = done.then((f) => Promise.reject(new Error(`berth server exited ${f.code ?? f.signal} before it listened:\n${f.stdout}\n${f.stderr}`)));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`berth server did not listen within ${SERVER_START_MS / 1000} s`)), SERVER_START_MS)));
  try {
    const url = await Promise.race([listening, ended, late]);
    if (!token) throw new Error('berth server started on an empty store without printing "admin token: …"');
    return { child, url, token };
  } finally {
    clearTimeout(timer);
    ended.catch(() => {});
  }
}

async function stopServerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const deadline = Date.now() + 15_000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) await Promise.race([exited, sleep(100)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

async function releaseFixture(): Promise<Fixture> {
  const root = await tinyRootTarball();
  return makeFixture(
    { web: { settings: { root: { tarball: root }, command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\n' } },
    {
      services: { web: { image: 'web', ports: [8080], health: { http: '/', interval: '1s', timeout: '500ms', unhealthy_after: 5, start_period: '10s' }, rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' } } },
      environments: { [ENVIRONMENT]: { network: 'nat', services: { web: { replicas: REPLICAS } } } },
      pipeline: [ENVIRONMENT],
    },
  );
}

interface ReleaseRun {
  ms: number;
  /** The progress lines' steps, e.g. "[1/2] front door …". */
  steps: string[];
}

/** `berth release web --env dev` of the build it runs; refuses a run that replaced or created an instance (then it was no no-op). */
async function noOpRelease(fixture: Fixture, env: NodeJS.ProcessEnv): Promise<ReleaseRun> {
  const finished = await run(['release', 'web', '--env', ENVIRONMENT, '-p', fixture.dir], env);
  if (!/: succeeded/.test(finished.stdout)) throw new Error(`berth release did not succeed:\n${finished.stdout}`);
  const { steps, changed } = releaseSteps(finished.stdout);
  if (changed.length > 0) throw new Error(`the release changed instances, so it was not a no-op: ${changed.join('; ')}\n${finished.stdout}`);
  return { ms: finished.ms, steps };
}

interface ReleaseFigures {
  samples: Record<Path, ReleaseRun[]>;
  serverUrl: string;
}

async function releaseBenchmark(made: Made): Promise<ReleaseFigures> {
  const local = await releaseFixture();
  made.fixtures.push(local);
  const remote = await releaseFixture();
  made.fixtures.push(remote);
  for (const fixture of [local, remote]) await run(['build', '-p', fixture.dir], fixture.env);
  interruption.check();
  // The first release of each puts the build in every slot; every later one is the no-op measured.
  await run(['release', 'web', '--env', ENVIRONMENT, '-p', local.dir], local.env);
  // Under the project's own state folder, which `berth apply` leaves out of what it uploads.
  made.serverState = join(remote.dir, '.berth', 'server');
  mkdirSync(made.serverState, { recursive: true });
  const server = await startServerProcess(made.serverState, remote.env, made);
  console.log(`berth server: ${server.url}, state ${made.serverState}`);
  const remoteEnv = { ...remote.env, BERTH_SERVER: server.url, BERTH_TOKEN: server.token };
  await run(['apply', '-p', remote.dir], remoteEnv);
  await run(['release', 'web', '--env', ENVIRONMENT, '-p', remote.dir], remoteEnv);
  interruption.check();
  const envOf: Record<Path, [Fixture, NodeJS.ProcessEnv]> = { 'in-process': [local, local.env], server: [remote, remoteEnv] };
  // One warm-up each (page cache, the server's first configuration load), not counted.
  for (const path of PATHS) await noOpRelease(...envOf[path]);
  const samples: Record<Path, ReleaseRun[]> = { 'in-process': [], server: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const line: string[] = [];
    for (const path of rotated(PATHS, round)) {
      await sleep(SETTLE_MS);
      interruption.check();
      const sample = await noOpRelease(...envOf[path]);
      samples[path].push(sample);
      line.push(`${path} ${ms(sample.ms)}`);
    }
    console.log(`round ${round + 1}: ${line.join(', ')}`);
  }
  return { samples, serverUrl: server.url };
}

// --- 2. GET /v1/instances with 1,000 instances recorded ---------------------------


/** A project of SERVICES services × PER_SERVICE on HOSTS tcp:// hosts that never get a connection: the fakes answer for them. */
function writeScaleProject(dir: string, project: string): void {
  const hosts = Array.from({ length: HOSTS }, (_, i) => ({ name: hostName(i), engine: `tcp://10.255.${Math.floor(i / 250)}.${(i % 250) + 1}:2375`, insecure: true }));
  const services = Object.fromEntries(Array.from({ length: SERVICES }, (_, i) => [serviceName(i), { image: 'web', ports: [8080], replicas: PER_SERVICE }]));
  const yaml = {
    project,
    images: { web: { root: { tarball: join(dir, 'root.tar') }, command: ['busybox', 'httpd', '-f', '-p', '8080'] } },
    hosts,
    services,
    environments: { production: { hosts: hosts.map((h) => h.name), network: 'nat' } },
    pipeline: ['production'],
  };
  mkdirSync(join(dir, 'images', 'web'), { recursive: true });
  writeFileSync(join(dir, 'images', 'web', 'static.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'root.tar'), '');
  writeFileSync(join(dir, 'berth.yaml'), stringify(yaml));
}


interface Latencies {
  each: number[];
  wallMs: number;
}

/** `count` calls of `once`, `concurrency` at a time; each call's latency and the wall time of all. */
async function measure(count: number, concurrency: number, once: () => Promise<void>): Promise<Latencies> {
  const each: number[] = [];
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const t0 = now();
        await once();
        each.push(now() - t0);
      }
    }),
  );
  return { each, wallMs: now() - start };
}

/** One GET with the token over the agent's keep-alive connections; resolves with the body once it is read, rejects on a non-200. */
function get(agent: Agent, url: URL, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode === 200) resolve(body);
        else reject(new Error(`GET ${url.pathname}: HTTP ${response.statusCode}: ${body.slice(0, 500)}`));
      });
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const KINDS = ['in-process', 'http'] as const;
type Kind = (typeof KINDS)[number];

interface ListFigures {
  sequential: Record<Kind, Latencies>;
  concurrent: Record<Kind, Latencies>;
  /** JSON.stringify of one answer (what fastify's serialisation does at least). */
  stringifyMs: number;
  bodyBytes: number;
}

async function listBenchmark(made: Made): Promise<ListFigures> {
  made.work = mkdtempSync(join(tmpdir(), 'berth-bench-server-'));
  const project = `bsrv-${process.pid}`;
  const dir = join(made.work, 'project');
  mkdirSync(dir);
  writeScaleProject(dir, project);
  const stateDir = join(made.work, 'state');
  const db = await openStore(stateDir);
  made.db = db;
  const env = { ...process.env, BERTH_STATE_DIR: stateDir };
  await applyBundle(db, stateDir, env, collectBundle(dir, join(dir, '.berth')), { actor: 'bench', dryRun: false });
  const fakes = new Map(Array.from({ length: HOSTS }, (_, i) => [hostName(i), new FakeEngine({ endpoint: `tcp://fake-${hostName(i)}` })]));
  const core = new ServerCore(stateDir, db, env, { connect: (spec) => fakes.get(spec.name)! });
  await recordInstances(db, project, fakes, { hosts: HOSTS, services: SERVICES, perService: PER_SERVICE, healthy: true });
  const token = (await createToken(db, { name: 'bench-viewer', role: 'viewer', createdBy: 'bench' })).token;
  const app = await buildApp(core);
  made.app = app;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('the app did not listen');
  const url = new URL(`http://127.0.0.1:${address.port}/v1/instances`);

  // Both paths must see the same 1,000 running instances, from every host.
  const direct = await fleetInstances(await core.run('bench'), {});
  const body = await get(new Agent({ keepAlive: true, maxSockets: 1 }), url, token);
  const answered = JSON.parse(body) as { instances: { state: string }[]; unreachable: unknown[] };
  for (const [what, listing] of [['fleetInstances', direct], ['GET /v1/instances', answered]] as const) {
    const running = listing.instances.filter((i) => i.state === 'running').length;
    if (running !== INSTANCES || listing.instances.length !== INSTANCES || listing.unreachable.length !== 0) {
      throw new Error(`${what}: ${listing.instances.length} instances (${running} running), ${listing.unreachable.length} hosts unreachable; expected ${INSTANCES} running on ${HOSTS} hosts`);
    }
  }
  const t0 = now();
  for (let i = 0; i < 20; i++) JSON.stringify(direct);
  const stringifyMs = (now() - t0) / 20;

  const inProcess = async () => fleetInstances(await core.run('bench'), {}).then(() => undefined);
  // A fresh agent per block, its connections opened before it is timed: a connection idle through a long
  // in-process block could pass the server's keep-alive timeout and be reset just as it is reused.
  const httpAgent = async (concurrency: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    await measure(concurrency, concurrency, () => get(agent, url, token).then(() => undefined));
    return agent;
  };
  // Warm-up: the JIT, SQLite's page cache.
  for (const c of [1, CONCURRENCY]) {
    await measure(WARMUP, c, inProcess);
    const agent = await httpAgent(c);
    await measure(WARMUP, c, () => get(agent, url, token).then(() => undefined));
    agent.destroy();
  }

  const collect = async (concurrency: number): Promise<Record<Kind, Latencies>> => {
    const all: Record<Kind, Latencies> = { 'in-process': { each: [], wallMs: 0 }, http: { each: [], wallMs: 0 } };
    const perBlock = Math.ceil(REQUESTS / BLOCKS);
    for (let block = 0; block < BLOCKS; block++) {
      for (const kind of rotated(KINDS, block)) {
        interruption.check();
        const agent = kind === 'http' ? await httpAgent(concurrency) : undefined;
        const part = await measure(perBlock, concurrency, agent ? () => get(agent, url, token).then(() => undefined) : inProcess);
        agent?.destroy();
        all[kind].each.push(...part.each);
        all[kind].wallMs += part.wallMs;
      }
    }
    return all;
  };
  const sequential = await collect(1);
  const concurrent = await collect(CONCURRENCY);
  for (const [name, figures] of [['sequential', sequential], [`concurrency ${CONCURRENCY}`, concurrent]] as const) {
    for (const kind of KINDS) {
      const l = figures[kind];
      console.log(`${name} ${kind}: p50 ${fine(percentile(l.each, 50))}, p99 ${fine(percentile(l.each, 99))}, ${(l.each.length / (l.wallMs / 1000)).toFixed(0)}/s`);
    }
  }
  return { sequential, concurrent, stringifyMs, bodyBytes: Buffer.byteLength(body) };
}

// --- clean-up, report ----------------------------------------------------------------

async function cleanUp(made: Made): Promise<void> {
  const report = (error: unknown) => console.error(`cleanup: ${(error as Error).message}`);
  for (const child of live) child.kill('SIGTERM');
  if (made.app) await made.app.close().catch(report);
  if (made.db) {
    try {
      await closeStore(made.db);
    } catch (error) {
      report(error);
    }
  }
  if (made.server) await stopServerProcess(made.server).catch(report);
  for (const fixture of made.fixtures) {
    // Containers (the front door's too), images and networks of the project, and any process naming its folder.
    await fixture.cleanup().catch(report);
  }
  if (made.work) rmSync(made.work, { recursive: true, force: true });
}

function report(release: ReleaseFigures, list: ListFigures, loadAtStart: number[]): void {
  const times = (path: Path) => release.samples[path].map((s) => s.ms);
  const local = median(times('in-process'));
  const remote = median(times('server'));
  const sameRound = release.samples['in-process'].map((s, i) => release.samples.server[i]!.ms / s.ms);
  const deltas = release.samples['in-process'].map((s, i) => release.samples.server[i]!.ms - s.ms);
  const steps = release.samples.server[0]?.steps.map((s) => s.replace(/^\[\d+\/\d+\]\s*/, '')).join('; ') ?? '';
  const row = (what: string, figures: Record<Kind, Latencies>) => {
    const p = (kind: Kind, q: number) => percentile(figures[kind].each, q);
    const rate = (kind: Kind) => figures[kind].each.length / (figures[kind].wallMs / 1000);
    return [
      `| ${what}, \`fleetInstances(run, {})\` in-process | ${fine(p('in-process', 50))} | ${fine(p('in-process', 99))} | ${rate('in-process').toFixed(0)} | – |`,
      `| ${what}, \`GET /v1/instances\` over HTTP | ${fine(p('http', 50))} | ${fine(p('http', 99))} | ${rate('http').toFixed(0)} | ${signed(p('http', 50) - p('in-process', 50), fine)} p50 (${(p('http', 50) / p('in-process', 50)).toFixed(2)}×), ${signed(p('http', 99) - p('in-process', 99), fine)} p99 |`,
    ];
  };
  const load = (values: number[]) => values.map((v) => v.toFixed(2)).join(' / ');
  const lines = [
    '## Server (issue 12)',
    '',
    `Reproduce: \`npm run bench:server\` (\`${invocation('server')}\`). Machine: ${machine()}; load average (1 / 5 / 15 min) at the start ${load(loadAtStart)}, at the end ${load(loadavg())}: shared with other engineers' builds and tests while it ran, so the figures are noisy.`,
    '',
    `**The API's overhead on a no-op release.** \`berth release web --env ${ENVIRONMENT}\` of the build the environment already runs (${REPLICAS} instances of busybox \`httpd\` on the tiny busybox root, nat network, health-checked), whole CLI process (\`node bin/berth.js\`): in-process (no \`BERTH_SERVER\`) and through a \`berth server\` started by the benchmark as a child process on a loopback port with its own \`--state\`, the project uploaded with \`berth apply\`, \`BERTH_SERVER\` and \`BERTH_TOKEN\` (the admin token) set. Two projects with the same berth.yaml, one per path, so the two stores never manage the same containers. Median of ${ROUNDS} rounds, each running both in a rotating order; one warm-up each before. Such a release still numbers a new release and journals a rollout whose steps change no instance: ${steps}.`,
    '',
    '| what (whole CLI process) | median | all rounds |',
    '|---|---|---|',
    `| in-process | ${ms(local)} | ${times('in-process').map(ms).join(', ')} |`,
    `| through the server (POST, then follow the rollout's events to its end) | ${ms(remote)} | ${times('server').map(ms).join(', ')} |`,
    '',
    `**Result**: through the server ÷ in-process = **${(remote / local).toFixed(2)}×** (medians), **${signed(remote - local, ms)}** absolute; same-round ratios ${sameRound.map((r) => `${r.toFixed(2)}×`).join(', ')} (median ${median(sameRound).toFixed(2)}×, median difference ${signed(median(deltas), ms)}).`,
    '',
    `**\`GET /v1/instances\` with ${INSTANCES.toLocaleString('en')} instances recorded** (${SERVICES} services × ${PER_SERVICE} in one environment over ${HOSTS} hosts). The slots are saved with the deploy's own store function (\`saveSlot\`); the hosts' engines are \`FakeEngine\`s (src/testing/fake-engine.ts: a Docker Engine in memory that the engine contract suite runs against as it runs against Docker; no container runs), each running the containers its slots would have (created with Berth's labels and the slot's published port, started, healthy), injected through \`ServerCore\`'s \`connect\` option. The app is built in the benchmark's process (\`buildApp(core)\`, \`listen({ port: 0 })\`) and asked over real HTTP on loopback (node:http, keep-alive, a viewer token): ${REQUESTS.toLocaleString('en')} requests in a row, then ${REQUESTS.toLocaleString('en')} ${CONCURRENCY} at a time; each against \`fleetInstances(run, {})\` called directly the same number of times, in ${BLOCKS} alternating blocks, after a warm-up of ${WARMUP} each. Every answer is read to its end (${(list.bodyBytes / 1024).toFixed(0)} KiB of JSON).`,
    '',
    '| what | p50 | p99 | requests/s | HTTP adds |',
    '|---|---|---|---|---|',
    ...row('sequential', list.sequential),
    ...row(`concurrency ${CONCURRENCY}`, list.concurrent),
    '',
    `Notes:`,
    `- What the HTTP layer adds: the token check (a SHA-256 and one SQLite look-up), fastify's routing and query validation, serialising the answer (\`JSON.stringify\` of it alone takes ${fine(list.stringifyMs)} here), the loopback socket, and the client's read. The in-process figure is Berth's own work: the configuration (cached per version), the reach check and the container list of every host (the fakes answer at once, so a real fleet adds each engine's round trip, the same for both paths), and the store's slots.`,
    `- At concurrency ${CONCURRENCY} both share one Node event loop with the load generator, on 2 cores with the rest of the machine: the latencies include queueing, the rate is what one server process gave.`,
    `- The release figures include everything each path does in its own process: the CLI's start (Node, the bundle), loading the project, and, through the server, resolving the build locally (the server is told its image), the POST, the server running the same \`releaseService\` as the CLI does in-process, and following \`/v1/events\` (server-sent events) until the rollout's end.`,
    remote < local
      ? "- Why through the server can be the faster: the CLI's own process then only loads the project and resolves the build (its local store and engine) before the POST; the release itself runs in the server, a process already started, its code compiled and the applied configuration loaded, while in-process the CLI does all of it from a cold start. What the API adds (the POST, the token check, the event stream) is smaller than what that warm process saves, within this machine's noise."
      : "- What the server path adds over in-process: the POST, the token check, the job and its event stream followed to the end; what it saves: the release runs in a process already started, its code compiled and the applied configuration loaded.",
  ];
  writeSection('server', lines.join('\n'));
  console.log(lines.join('\n'));
}

async function main() {
  const loadAtStart = loadavg();
  const made: Made = { fixtures: [] };
  const cleanup = interruption.cleanUpOnSignal(() => cleanUp(made));
  try {
    const list = await listBenchmark(made);
    await made.app?.close();
    made.app = undefined;
    await (made.db && await closeStore(made.db));
    made.db = undefined;
    interruption.check();
    const release = await releaseBenchmark(made);
    report(release, list, loadAtStart);
  } finally {
    await cleanup();
  }
}

await main();
