/**
 * Release benchmark (issue 5), in one run: a health-gated rolling update of 10
 * instances of one service (busybox httpd), one instance at a time, under the
 * same HTTP load against the service's front door, by
 *  1. Berth: `berth release web --env production --force --image <other build>`,
 *     whole CLI process (flat network by default, `--network nat` for nat; Berth's HAProxy front door);
 *  2. Docker Swarm (single node): `docker service update --image <other build>`,
 *     whole CLI process, Swarm's default update order (stop-first);
 *  3. the same with `--update-order start-first`.
 * Two builds (A and B) are made up front; each round every contender rolls from
 * the build it runs to the other one, in a rotating order. Counted: the wall
 * time, when the last new instance was up, and every request of the load that
 * failed (network error, timeout, non-2xx, or not the page).
 *
 * Swarm's front: its ingress routing mesh (127.0.0.1:<published port>) needs
 * IPVS in the kernel. Where the kernel has none (`--swarm-front auto` looks for
 * /proc/net/ip_vs), the Swarm service is fronted instead by the same HAProxy
 * Berth uses, run as a Swarm service that finds the tasks through Swarm's DNS
 * (tasks.<service>, endpoint mode dnsrr) and health-checks them, with Berth's
 * HAProxy defaults (retries, redispatch). The section says which one ran.
 *
 * Initialises a single-node swarm only if the engine is in none, and leaves it
 * at the end only if it did. Removes everything it made, on failure and on
 * Ctrl-C too. Writes its figures to BENCHMARKS.md.
 * Run: npm run bench:release -- [--rounds N] [--network flat|nat] [--swarm-front auto|mesh|haproxy]
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connectEngine } from '../src/engine/client.js';
import { freePort } from '../src/lb/front-door.js';
import { findProgram } from '../src/supervisor/program.js';
import { haproxyConfig } from '../src/lb/haproxy-config.js';
import { removeNetwork } from '../src/network/docker-network.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../src/testing/fixture.js';
import type { RawEngine } from '../src/testing/raw-engine.js';
import { get, startLoad, type LoadResult } from '../src/testing/load.js';
import { sleep } from '../src/time.js';
import { BERTH, DOCKER, DOCKER_ENV, Interruption, invocation, loadNote, machine, median, ms, pickSubnet, positiveFlag, rotated, spawnTimed, writeSection, type Finished } from './lib.js';

const REPLICAS = 10;
const ROUNDS = positiveFlag('--rounds') ?? 5;
const CONTENDERS = ['berth', 'swarm-stop', 'swarm-start'] as const;
type Contender = (typeof CONTENDERS)[number];
type Version = 'A' | 'B';
const HEALTH = { path: '/', interval: '1s', timeout: '500ms', retries: 1 };
const DRAIN = '1s';
/** The load: CLIENTS loops, each a GET on a new connection, at most one every PACE_MS. */
const CLIENTS = 4;
const PACE_MS = 20;
const REQUEST_TIMEOUT_MS = 5000;
const SETTLE_MS = 2000;
const UPDATE_TIMEOUT_MS = 300_000;
const BENCH_LABEL = 'berth-bench.release';
const ENVIRONMENT = 'production';

/** Berth's network: flat (default: each instance its own IP on a bridge, HAProxy straight to it) or nat (published host ports). */
function networkFlag(): 'flat' | 'nat' {
  const at = process.argv.indexOf('--network');
  const value = at >= 0 ? process.argv[at + 1] : 'flat';
  if (value !== 'flat' && value !== 'nat') throw new Error(`--network: flat or nat, not ${value}`);
  return value;
}
const NETWORK = networkFlag();

function frontFlag(): 'auto' | 'mesh' | 'haproxy' {
  const at = process.argv.indexOf('--swarm-front');
  const value = at >= 0 ? process.argv[at + 1] : 'auto';
  if (value !== 'auto' && value !== 'mesh' && value !== 'haproxy') throw new Error(`--swarm-front: auto, mesh or haproxy, not ${value}`);
  return value;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const page = (version: Version) => `hello ${version}`;
const other = (version: Version): Version => (version === 'A' ? 'B' : 'A');

/** Set by SIGINT/SIGTERM: the rounds stop at the next step. */
const interruption = new Interruption();

/** Commands this run started and that may still run: stopped before the clean-up. */
const live = new Set<ChildProcess>();

/**
 * A set-up command that has not finished in this time fails the run instead of hanging it: at load 30,
 * `docker service create --detach=false` never returned, every Swarm task failing its health check.
 */
const SETUP_TIMEOUT_MS = 600_000;

function runSync(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { env, encoding: 'utf8', timeout: SETUP_TIMEOUT_MS });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}${result.signal ? ` (stopped with ${result.signal} after ${SETUP_TIMEOUT_MS / 1000} s)` : ''}:\n${result.stdout}\n${result.stderr}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}
const docker = (args: string[]) => runSync(DOCKER, args, DOCKER_ENV);
const berthCli = (fixture: Fixture, args: string[]) => runSync('node', [BERTH, ...args, '-p', fixture.dir], fixture.env);

/** Runs and times a command while the event loop (the load) goes on; throws unless it exits 0. */
async function timedAsync(command: string, args: string[], env: NodeJS.ProcessEnv, onLine?: (line: string) => void): Promise<Finished> {
  const { child, done } = spawnTimed(command, args, { env, ...(onLine ? { onLine } : {}) });
  live.add(child);
  const timer = setTimeout(() => child.kill('SIGTERM'), UPDATE_TIMEOUT_MS);
  try {
    const finished = await done;
    if (finished.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${finished.code ?? finished.signal}:\n${finished.stdout}\n${finished.stderr}`);
    return finished;
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

// --- the load -------------------------------------------------------------------

interface Target {
  host: string;
  port: number;
}

const urlOf = (target: Target) => `http://${target.host}:${target.port}/`;

/** The page of this benchmark's image: a 2xx whose body is not it counts as a failure too. */
const isPage = (body: string) => body.startsWith('hello ');

/** The shared load generator with this benchmark's pace; answers that are not the page are failures ("not the page"). */
function startPageLoad(target: Target): { stop(): Promise<LoadResult> } {
  const load = startLoad(urlOf(target), { concurrency: CLIENTS, newConnections: true, paceMs: PACE_MS, timeoutMs: REQUEST_TIMEOUT_MS, maxMs: Infinity });
  return {
    async stop() {
      const result = await load.stop();
      const notPage = [...result.answers].filter(([body]) => !isPage(body)).reduce((n, [, count]) => n + count, 0);
      if (notPage === 0) return result;
      return { ...result, ok: result.ok - notPage, failed: result.failed + notPage, kinds: { ...result.kinds, 'not the page': notPage } };
    },
  };
}

/** One GET / on a new connection: undefined when it got the page `expect`, else what went wrong. */
async function getPage(target: Target, expect: string): Promise<string | undefined> {
  try {
    const answer = await get(urlOf(target), { timeoutMs: REQUEST_TIMEOUT_MS });
    if (answer.status < 200 || answer.status >= 300) return `HTTP ${answer.status}`;
    if (!isPage(answer.body)) return 'not the page';
    return answer.body.trim() === expect ? undefined : `"${answer.body.trim()}", not "${expect}"`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** Waits until `count` GETs in a row got `expect`; throws after `timeoutMs`. */
async function untilServes(target: Target, expect: string, what: string, count = 2 * REPLICAS, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let inARow = 0;
  let last: string | undefined;
  while (inARow < count) {
    interruption.check();
    last = await getPage(target, expect);
    inARow = last === undefined ? inARow + 1 : 0;
    if (last !== undefined) {
      if (Date.now() > deadline) throw new Error(`${what} (${target.host}:${target.port}) does not serve "${expect}" after ${timeoutMs / 1000} s: ${last}`);
      await sleep(200);
    }
  }
}

// --- set-up -----------------------------------------------------------------------

interface Swarm {
  service: string;
  front: 'mesh' | 'haproxy';
  /** Why that front: picked by `auto`, or named with --swarm-front. */
  chosen: 'auto' | 'flag';
  /** The HAProxy front's service, its overlay network and image (front = haproxy). */
  frontService?: string;
  network?: string;
  frontImage?: string;
  target: Target;
  tags: Record<Version, string>;
  version: Version;
  order: 'stop-first' | 'start-first';
}

interface Setup {
  fixture: Fixture;
  images: Record<Version, string>;
  berth: { target: Target; version: Version };
  swarm: Swarm;
}

/** What the clean-up must undo, filled in as the set-up goes. */
interface Made {
  fixture?: Fixture;
  work?: string;
  tags: string[];
  services: string[];
  network?: string;
  frontImage?: string;
  swarmInitialised: boolean;
  gwbridgeBefore: boolean;
  /** The Linux bridge of Berth's flat network. */
  bridge?: string;
}

async function buildVersions(fixture: Fixture): Promise<Record<Version, string>> {
  const images = {} as Record<Version, string>;
  for (const version of ['A', 'B'] as const) {
    fixture.write('images/web/static.sh', `#!/bin/sh\nmkdir -p /www\necho "${page(version)}" > /www/index.html\n`, 0o755);
    berthCli(fixture, ['build']);
    const listed = JSON.parse(berthCli(fixture, ['images', '--json'])) as { images: { name: string; imageId: string | null }[] };
    const id = listed.images.find((i) => i.name === 'web')?.imageId;
    if (!id) throw new Error(`berth build left no image for web (${version}): ${JSON.stringify(listed)}`);
    images[version] = id;
  }
  if (images.A === images.B) throw new Error('builds A and B have the same image');
  return images;
}

/** The build Berth runs first: all 10 instances of A, through the front door. */
async function berthFirstRelease(fixture: Fixture, image: string): Promise<Target> {
  const result = JSON.parse(berthCli(fixture, ['release', 'web', '--env', ENVIRONMENT, '--force', '--image', image, '--json'])) as {
    status: string;
    frontDoor: { address: string; port: number };
  };
  if (result.status !== 'succeeded') throw new Error(`the first release did not succeed: ${JSON.stringify(result)}`);
  return { host: result.frontDoor.address, port: result.frontDoor.port };
}

const swarmState = () => docker(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim();

function meshAvailable(): boolean {
  spawnSync('modprobe', ['-q', 'ip_vs'], { stdio: 'ignore' });
  return existsSync('/proc/net/ip_vs');
}

/**
 * A scratch image with the host's HAProxy (the binary Berth's front doors run, and the
 * libraries it links), configured to find the Swarm service's tasks through Swarm's DNS.
 */
function buildHaproxyImage(work: string, tag: string, runId: string, service: string): void {
  const context = join(work, 'haproxy-image');
  const rootfs = join(context, 'rootfs');
  const binary = findProgram({ name: 'haproxy', what: 'the load balancer program', debianPackage: 'haproxy' });
  const libraries = librariesOf(binary);
  for (const file of [binary, ...libraries]) {
    mkdirSync(join(rootfs, dirname(file)), { recursive: true });
    copyFileSync(file, join(rootfs, file));
  }
  // Berth's own defaults (timeouts, retries 3, redispatch, retry-on …), so both fronts retry alike.
  const berthConfig = haproxyConfig({ id: 'bench', bind: { address: '127.0.0.1', port: 8080 }, servers: [] });
  const defaults = /^defaults\n(?: {2}.*\n)+/m.exec(berthConfig)?.[0];
  if (!defaults) throw new Error(`no defaults section in Berth's HAProxy config:\n${berthConfig}`);
  const interval = HEALTH.interval;
  const config = [
    'global',
    '  log stdout format raw local0',
    '  hard-stop-after 30s',
    '',
    // Swarm's embedded DNS; every answer is kept 1 s, so a change shows within about a second.
    'resolvers swarm',
    '  nameserver dns 127.0.0.11:53',
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    '  hold valid 1s',
    '  hold other 1s',
    '  hold refused 1s',
    '  hold nx 1s',
    '  hold timeout 1s',
    '  hold obsolete 1s',
    '  accepted_payload_size 8192',
    '',
    defaults.trimEnd(),
    '',
    'frontend fe',
    '  bind :8080',
    '  default_backend be',
    '',
    'backend be',
    '  balance roundrobin',
    // The same check as the service's: GET / every second, one failure takes it out, one success back in.
    `  option httpchk GET ${HEALTH.path}`,
    `  default-server check inter ${interval} fall ${HEALTH.retries} rise 1 resolvers swarm init-addr none`,
    // Room for a surge (start-first) and more.
    `  server-template task ${2 * REPLICAS} tasks.${service}:8080`,
    '',
  ].join('\n');
  mkdirSync(join(rootfs, 'etc', 'haproxy'), { recursive: true });
  writeFileSync(join(rootfs, 'etc', 'haproxy', 'haproxy.cfg'), config);
  writeFileSync(join(context, 'Dockerfile'), `FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ${JSON.stringify([binary, '-db', '-f', '/etc/haproxy/haproxy.cfg'])}\n`);
  docker(['build', '-q', '--label', `${BENCH_LABEL}=${runId}`, '-t', tag, context]);
  docker(['run', '--rm', '--entrypoint', binary, tag, '-c', '-f', '/etc/haproxy/haproxy.cfg']);
}

/** The shared libraries a program loads, with the loader (paths as ldd prints them). */
function librariesOf(binary: string): string[] {
  const out = runSync('ldd', [binary], process.env);
  return out
    .split('\n')
    .map((line) => /(\/\S+)/.exec(line)?.[1])
    .filter((file): file is string => file !== undefined && file !== binary);
}

/** Single-node swarm, the web service (10 × A, health-checked like Berth's), its front; waits until the front serves A. */
async function swarmSetup(runId: string, work: string, images: Record<Version, string>, made: Made): Promise<Swarm> {
  const state = swarmState();
  if (state === 'inactive') {
    docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    made.swarmInitialised = true;
  } else if (state !== 'active') {
    throw new Error(`this engine's swarm state is "${state}": neither in a swarm nor out of one`);
  }
  const wanted = frontFlag();
  const front = wanted === 'auto' ? (meshAvailable() ? 'mesh' : 'haproxy') : wanted;
  const tags = { A: `berth-bench/web:${runId}-a`, B: `berth-bench/web:${runId}-b` };
  for (const version of ['A', 'B'] as const) {
    const [repo, tag] = tags[version].split(':') as [string, string];
    docker(['tag', images[version], `${repo}:${tag}`]);
    made.tags.push(tags[version]);
  }
  const service = `berth-bench-${runId}-web`;
  const port = await freePort('0.0.0.0');
  const common = ['--detach=false', '--quiet', '--no-resolve-image', '--label', `${BENCH_LABEL}=${runId}`];
  const webArgs = [
    'service', 'create', ...common, '--name', service, '--replicas', String(REPLICAS), '--init',
    '--health-cmd', `/opt/berth/bin/health http 8080 ${HEALTH.path}`, '--health-interval', HEALTH.interval, '--health-timeout', HEALTH.timeout, '--health-retries', String(HEALTH.retries),
    '--update-parallelism', '1', '--update-delay', '0s', '--update-order', 'stop-first', '--update-failure-action', 'rollback',
  ];
  let swarm: Swarm;
  if (front === 'mesh') {
    made.services.push(service);
    docker([...webArgs, '--publish', `published=${port},target=8080`, tags.A]);
    swarm = { service, front, chosen: wanted === 'auto' ? 'auto' : 'flag', target: { host: '127.0.0.1', port }, tags, version: 'A', order: 'stop-first' };
  } else {
    const network = `berth-bench-${runId}`;
    docker(['network', 'create', '--driver', 'overlay', '--label', `${BENCH_LABEL}=${runId}`, network]);
    made.network = network;
    const frontImage = `berth-bench/haproxy:${runId}`;
    made.frontImage = frontImage;
    buildHaproxyImage(work, frontImage, runId, service);
    made.services.push(service);
    docker([...webArgs, '--network', network, '--endpoint-mode', 'dnsrr', tags.A]);
    const frontService = `berth-bench-${runId}-front`;
    made.services.push(frontService);
    docker(['service', 'create', ...common, '--name', frontService, '--replicas', '1', '--network', network, '--publish', `mode=host,published=${port},target=8080`, frontImage]);
    swarm = { service, front, chosen: wanted === 'auto' ? 'auto' : 'flag', frontService, network, frontImage, target: { host: '127.0.0.1', port }, tags, version: 'A', order: 'stop-first' };
  }
  await untilServes(swarm.target, page('A'), `the Swarm service's ${front === 'mesh' ? 'routing mesh' : 'HAProxy front'}`);
  return swarm;
}

// --- the contenders ---------------------------------------------------------------

interface Sample {
  /** The whole CLI process. */
  wall: number;
  /** From the same start until the last new instance was up (Berth: in the front door; Swarm: task running, i.e. healthy). */
  lastUp: number;
  /** Per instance, ms: from its start until it was healthy; (Swarm stop-first) from the new task's creation until the old one had stopped. */
  started: number[];
  stopped: number[];
  load: LoadResult;
}

type Timed = Omit<Sample, 'load'>;

/** Runs a timed update under the load; `update` returns the wall time and when the last new instance was up. */
async function underLoad(target: Target, update: () => Promise<Timed>): Promise<Sample> {
  const load = startPageLoad(target);
  try {
    const timed = await update();
    return { ...timed, load: await load.stop() };
  } catch (error) {
    await load.stop();
    throw error;
  }
}

async function berthUpdate(setup: Setup): Promise<Sample> {
  const next = other(setup.berth.version);
  const sample = await underLoad(setup.berth.target, async () => {
    const start = now();
    let lastUp = NaN;
    const started: number[] = [];
    const finished = await timedAsync('node', [BERTH, 'release', 'web', '--env', ENVIRONMENT, '--force', '--image', setup.images[next], '-p', setup.fixture.dir], setup.fixture.env, (line) => {
      if (/in the front door/.test(line)) lastUp = now() - start;
      const healthy = /healthy in (\d+) ms/.exec(line);
      if (healthy) started.push(Number(healthy[1]));
    });
    if (!/: succeeded/.test(finished.stdout)) throw new Error(`berth release did not succeed:\n${finished.stdout}`);
    return { wall: finished.ms, lastUp, started, stopped: [] };
  });
  setup.berth.version = next;
  await untilServes(setup.berth.target, page(next), "Berth's front door", 2 * REPLICAS, 5000);
  return sample;
}

interface Task {
  ID: string;
  Slot: number;
  CreatedAt: string;
  DesiredState: string;
  Spec: { ContainerSpec: { Image: string } };
  Status: { State: string; Timestamp: string };
}

const runningTasks = async (engine: RawEngine, service: string) =>
  (await engine.json<Task[]>('GET', '/tasks', { query: { filters: { service: [service], 'desired-state': ['running'] } } })).filter((t) => t.Status.State === 'running');

async function setOrder(engine: RawEngine, swarm: Swarm, order: Swarm['order']): Promise<void> {
  if (swarm.order === order) return;
  const before = (await runningTasks(engine, swarm.service)).map((t) => t.ID).sort();
  // Only the update policy changes, not the tasks' spec: nothing is redeployed.
  docker(['service', 'update', '--detach', '--quiet', '--update-order', order, swarm.service]);
  swarm.order = order;
  await sleep(SETTLE_MS);
  const after = (await runningTasks(engine, swarm.service)).map((t) => t.ID).sort();
  if (before.join() !== after.join()) throw new Error(`changing the update order to ${order} replaced tasks: ${before.join(' ')} → ${after.join(' ')}`);
}

async function swarmUpdate(setup: Setup, order: Swarm['order']): Promise<Sample> {
  const { swarm, fixture } = setup;
  await setOrder(fixture.raw, swarm, order);
  await sleep(SETTLE_MS);
  interruption.check();
  const next = other(swarm.version);
  const sample = await underLoad(swarm.target, async () => {
    const startEpoch = Date.now();
    const finished = await timedAsync(DOCKER, ['service', 'update', '--detach=false', '--no-resolve-image', '--image', swarm.tags[next], swarm.service], DOCKER_ENV);
    const inspect = await fixture.raw.json<{ UpdateStatus?: { State: string; Message: string } }>('GET', `/services/${swarm.service}`);
    if (inspect.UpdateStatus?.State !== 'completed') throw new Error(`docker service update ended "${inspect.UpdateStatus?.State}": ${inspect.UpdateStatus?.Message}\n${finished.stdout}\n${finished.stderr}`);
    const tasks = (await runningTasks(fixture.raw, swarm.service)).filter((t) => t.Spec.ContainerSpec.Image === swarm.tags[next]);
    if (tasks.length !== REPLICAS) throw new Error(`after the update, ${tasks.length} tasks run ${swarm.tags[next]}, not ${REPLICAS}`);
    // Swarm reports a task running once its container passed its health check.
    const lastUp = Math.max(...tasks.map((t) => Date.parse(t.Status.Timestamp))) - startEpoch;
    // Per slot, from Swarm's own timestamps: the old task (the latest of the old build in that slot) and the new one.
    const history = await fixture.raw.json<Task[]>('GET', '/tasks', { query: { filters: { service: [swarm.service] } } });
    const started: number[] = [];
    const stopped: number[] = [];
    for (const task of tasks) {
      const created = Date.parse(task.CreatedAt);
      const old = history
        .filter((t) => t.Slot === task.Slot && t.Spec.ContainerSpec.Image === swarm.tags[swarm.version] && t.DesiredState !== 'running')
        .sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt))[0];
      const oldStopped = old ? Date.parse(old.Status.Timestamp) : created;
      // stop-first: the new task starts once the old one has stopped; start-first: at once.
      const from = order === 'stop-first' ? Math.max(created, oldStopped) : created;
      started.push(Date.parse(task.Status.Timestamp) - from);
      if (order === 'stop-first') stopped.push(oldStopped - created);
    }
    return { wall: finished.ms, lastUp, started, stopped };
  });
  swarm.version = next;
  await untilServes(swarm.target, page(next), `the Swarm service's front`, 2 * REPLICAS, 5000);
  return sample;
}

const RUNNERS: Record<Contender, (setup: Setup) => Promise<Sample>> = {
  berth: berthUpdate,
  'swarm-stop': (setup) => swarmUpdate(setup, 'stop-first'),
  'swarm-start': (setup) => swarmUpdate(setup, 'start-first'),
};

// --- clean-up -----------------------------------------------------------------------

async function stopChildren(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('close', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(500);
  }
  console.error(`cleanup: ${what} after ${timeoutMs / 1000} s`);
  return false;
}

async function cleanUp(made: Made): Promise<void> {
  const engine = made.fixture?.engine ?? connectEngine();
  const report = (error: unknown) => console.error('cleanup:', error instanceof Error ? error.message : error);
  const quiet = (args: string[]) => spawnSync(DOCKER, args, { env: DOCKER_ENV, encoding: 'utf8' });
  await stopChildren();

  // Swarm: the services, then their task containers (Swarm removes them a moment later), the network.
  if (made.services.length > 0) quiet(['service', 'rm', ...made.services]);
  for (const service of made.services) {
    const label = `com.docker.swarm.service.name=${service}`;
    const gone = await until(`containers of ${service} are still there`, async () => (await engine.containers.list([label])).length === 0, 60_000);
    if (!gone) for (const id of await engine.containers.list([label]).catch(() => [])) await engine.containers.remove(id).catch(report);
  }
  // dockerd tears a task's network endpoints down after its container is gone; leaving the swarm in the
  // middle of that has left docker_gwbridge with an endpoint count stuck at 1 (removable only by a restart).
  if (made.services.length > 0) await sleep(3000);
  if (made.network) {
    const network = made.network;
    await until(`network ${network} is still there`, async () => quiet(['network', 'rm', network]).status === 0 || quiet(['network', 'inspect', network]).status !== 0, 30_000);
    await sleep(2000);
  }
  if (made.swarmInitialised) {
    const others = quiet(['service', 'ls', '-q']).stdout.trim();
    if (others !== '') console.error(`cleanup: the swarm this run initialised now has services it did not make (${others.replace(/\n/g, ' ')}): not leaving it`);
    else {
      const left = quiet(['swarm', 'leave', '--force']);
      if (left.status !== 0) report(left.stderr);
      // The bridge Swarm made for its tasks' outside traffic outlives the swarm.
      else if (!made.gwbridgeBefore && quiet(['network', 'inspect', 'docker_gwbridge']).status === 0) {
        await sleep(2000);
        const removed = await until('docker_gwbridge is still there', async () => quiet(['network', 'rm', 'docker_gwbridge']).status === 0 || quiet(['network', 'inspect', 'docker_gwbridge']).status !== 0, 15_000);
        if (!removed) console.error(`cleanup: ${quiet(['network', 'rm', 'docker_gwbridge']).stderr.trim()}`);
      }
    }
  }
  for (const tag of made.tags) quiet(['rmi', tag]);
  if (made.frontImage) quiet(['rmi', made.frontImage]);

  // Berth: its instances, front door, network, images and folder.
  const { fixture } = made;
  if (fixture) {
    for (const id of await fixture.engine.containers.list([`berth.project=${fixture.name}`]).catch(() => [])) await fixture.engine.containers.remove(id).catch(report);
    // The front door's container went with the project's containers above.
    for (const network of ['lan', 'nat']) await removeNetwork(fixture.engine, `berth-${fixture.name}-${network}`).catch(report);
    await fixture.cleanup().catch(report);
  }
  // The engine deletes the bridge it made with the network; this is for an interrupted creation.
  if (made.bridge && existsSync(`/sys/class/net/${made.bridge}`)) spawnSync('ip', ['link', 'delete', made.bridge]);
  if (made.work) rmSync(made.work, { recursive: true, force: true });
}

// --- rounds, report -------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main() {
  const run = randomBytes(3).toString('hex');
  const made: Made = { tags: [], services: [], swarmInitialised: false, gwbridgeBefore: false };
  made.gwbridgeBefore = spawnSync(DOCKER, ['network', 'inspect', 'docker_gwbridge'], { env: DOCKER_ENV, stdio: 'ignore' }).status === 0;
  const cleanup = interruption.cleanUpOnSignal(() => cleanUp(made));

  try {
    made.work = mkdtempSync(join(tmpdir(), 'berth-bench-release-'));
    const root = await tinyRootTarball();
    made.bridge = `brel${run}`;
    const prefix = NETWORK === 'flat' ? await pickSubnet(connectEngine()) : '';
    const networks =
      NETWORK === 'flat'
        ? { networks: { lan: { mode: 'flat', bridge: made.bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.200`, create_bridge: true, quarantine: '0s' } } }
        : {};
    const fixture = await makeFixture(
      { web: { settings: { root: { tarball: root }, command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] } } },
      {
        ...networks,
        services: {
          web: {
            image: 'web',
            ports: [8080],
            health: { http: HEALTH.path, interval: HEALTH.interval, timeout: HEALTH.timeout, retries: HEALTH.retries },
            rollout: { batch_size: 1, max_unavailable: 1, drain: DRAIN },
          },
        },
        environments: { [ENVIRONMENT]: { network: NETWORK === 'flat' ? 'lan' : 'nat', services: { web: { replicas: REPLICAS } } } },
      },
    );
    made.fixture = fixture;
    const images = await buildVersions(fixture);
    console.log(`builds: A ${images.A.slice(7, 19)}, B ${images.B.slice(7, 19)}`);
    interruption.check();
    const berthTarget = await berthFirstRelease(fixture, images.A);
    await untilServes(berthTarget, page('A'), "Berth's front door");
    console.log(`Berth: ${REPLICAS} × A behind its front door http://${berthTarget.host}:${berthTarget.port}/`);
    interruption.check();
    const swarm = await swarmSetup(run, made.work, images, made);
    console.log(`Swarm: service ${swarm.service}, ${REPLICAS} × A, ${swarm.front === 'mesh' ? 'routing mesh' : `HAProxy front ${swarm.frontService}`} on http://127.0.0.1:${swarm.target.port}/${made.swarmInitialised ? ' (swarm initialised by this run)' : ''}`);
    const setup: Setup = { fixture, images, berth: { target: berthTarget, version: 'A' }, swarm };

    const samples = new Map<Contender, Sample[]>(CONTENDERS.map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = rotated(CONTENDERS, round);
      for (const contender of order) {
        await sleep(SETTLE_MS);
        interruption.check();
        const sample = await RUNNERS[contender](setup);
        samples.get(contender)!.push(sample);
        const { load } = sample;
        console.log(
          `round ${round + 1} ${contender.padEnd(11)} wall ${ms(sample.wall)}, last up ${ms(sample.lastUp)}, per instance: healthy after ${ms(median(sample.started))}${sample.stopped.length ? `, old stopped after ${ms(median(sample.stopped))}` : ''}; failed ${load.failed}/${load.requests}${load.failed ? ` ${JSON.stringify(load.kinds)}` : ''}, p99 ${ms(percentile(load.latencies, 99))}, max ${ms(Math.max(...load.latencies))}`,
        );
      }
    }
    report(samples, setup, made);
  } finally {
    await cleanup();
  }
}

const NAMES: Record<Contender, string> = { berth: 'Berth', 'swarm-stop': 'Swarm stop-first', 'swarm-start': 'Swarm start-first' };

function report(samples: Map<Contender, Sample[]>, setup: Setup, made: Made): void {
  const of = (c: Contender) => samples.get(c)!;
  const med = (c: Contender, key: 'wall' | 'lastUp') => median(of(c).map((s) => s[key]));
  const all = (c: Contender, key: 'wall' | 'lastUp') => of(c).map((s) => ms(s[key])).join(', ');
  const failed = (c: Contender) => of(c).reduce((n, s) => n + s.load.failed, 0);
  const total = (c: Contender) => of(c).reduce((n, s) => n + s.load.requests, 0);
  const perRound = (c: Contender) => of(c).map((s) => `${s.load.failed}/${s.load.requests}`).join(', ');
  const kinds = (c: Contender) => {
    const sum: Record<string, number> = {};
    for (const s of of(c)) for (const [kind, n] of Object.entries(s.load.kinds)) sum[kind] = (sum[kind] ?? 0) + n;
    const list = Object.entries(sum).sort((a, b) => b[1] - a[1]);
    return list.length === 0 ? 'none' : list.map(([kind, n]) => `${kind} × ${n}`).join(', ');
  };
  const latency = (c: Contender) => `${ms(median(of(c).map((s) => percentile(s.load.latencies, 99))))} / ${ms(Math.max(...of(c).map((s) => Math.max(...s.load.latencies))))}`;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const sameRound = (c: Contender, key: 'wall' | 'lastUp') => of('berth').map((b, i) => ratio(b[key], of(c)[i]![key])).join(', ');
  const wins = (c: Contender) => of('berth').filter((b, i) => b.wall < of(c)[i]!.wall).length;
  const rate = (c: Contender) => `${((failed(c) / total(c)) * 100).toFixed(failed(c) === 0 ? 0 : 2)}%`;
  const mesh = setup.swarm.front === 'mesh';
  const each = (c: Contender, key: 'started' | 'stopped') => ms(median(of(c).flatMap((s) => s[key])));
  const step = (c: Contender) => ms(med(c, 'lastUp') / REPLICAS);
  const swarmFront = mesh
    ? "Swarm's ingress routing mesh (IPVS), `127.0.0.1:<published port>`"
    : "the same HAProxy 2.6 in a Swarm service (host-mode published port, overlay network), finding the tasks through Swarm's DNS (`tasks.<service>`, endpoint mode `dnsrr`, re-resolved every 1 s) and health-checking them (`GET /` every 1 s, fall 1, rise 1), with Berth's HAProxy defaults (retries 3, `option redispatch 1`, `retry-on conn-failure empty-response response-timeout`)";
  const row = (c: Contender, what: string) =>
    `| ${what} | ${ms(med(c, 'wall'))} | ${ms(med(c, 'lastUp'))} | **${failed(c)} / ${total(c)}** (${rate(c)}) | ${latency(c)} | ${c === 'berth' ? '–' : `${ratio(med('berth', 'wall'), med(c, 'wall'))} (${ratio(med('berth', 'lastUp'), med(c, 'lastUp'))})`} |`;
  const versus = (c: Contender) => {
    const x = med(c, 'wall') / med('berth', 'wall');
    return `${x >= 1 ? `${x.toFixed(2)}× faster` : `${(1 / x).toFixed(2)}× slower`} than ${NAMES[c]} (faster in ${wins(c)} of ${ROUNDS} rounds)`;
  };
  const docker = spawnSync(DOCKER, ['version', '--format', '{{.Client.Version}}'], { env: DOCKER_ENV, encoding: 'utf8' }).stdout.trim();
  const lines = [
    '## Release (issue 5)',
    '',
    `Reproduce: \`npm run bench:release\` (\`${invocation('release')}\`). Machine: ${machine()}, docker CLI ${docker}, single-node Swarm${made.swarmInitialised ? ' (initialised for the run, left afterwards)' : ''}; ${loadNote()}.`,
    '',
    `A health-gated rolling update of ${REPLICAS} instances of one service (busybox \`httpd\`, a one-image hierarchy on the tiny busybox root), one instance at a time, from one build to another (A and B, built up front; each round every contender rolls from the build it runs to the other). Health check for both: \`GET /\` every ${HEALTH.interval}, timeout ${HEALTH.timeout}, ${HEALTH.retries} retry (\`/opt/berth/bin/health\` in the image). Median of ${ROUNDS} rounds; each round runs the three in a rotating order, ${SETTLE_MS / 1000} s apart. **Load** during each update, the same for all: ${CLIENTS} clients, each a \`GET /\` on a new connection at most every ${PACE_MS} ms (≤ ${(CLIENTS * 1000) / PACE_MS} requests/s), against the service's front door; a request **fails** on a network error, no answer in ${REQUEST_TIMEOUT_MS / 1000} s, a non-2xx status or a body that is not the page. After each update, ${2 * REPLICAS} requests in a row must get the new build.`,
    '',
    `| what (whole CLI process) | rolling update, wall | until the last new instance was up | failed / total requests, all rounds | latency p99 (median) / max | Berth ÷ this (until last up) |`,
    '|---|---|---|---|---|---|',
    row('berth', `**Berth**: \`berth release web --env ${ENVIRONMENT} --force --image <other build>\`; ${NETWORK === 'flat' ? 'flat network (each instance its own IP and MAC on a Linux bridge; HAProxy sends to ip:8080)' : 'nat network (each instance publishes 8080 on a host port; HAProxy sends to it)'}, front door = Berth's HAProxy 2.6 on 127.0.0.1; \`rollout: { batch_size: 1, max_unavailable: 1, drain: ${DRAIN} }\``),
    row('swarm-stop', `**Swarm, stop-first** (its default): \`docker service update --detach=false --no-resolve-image --image <other tag>\`, \`--update-parallelism 1 --update-delay 0s --update-failure-action rollback\``),
    row('swarm-start', `**Swarm, start-first**: the same with \`--update-order start-first\``),
    '',
    `All rounds, wall: Berth ${all('berth', 'wall')}; Swarm stop-first ${all('swarm-stop', 'wall')}; start-first ${all('swarm-start', 'wall')}. Until the last new instance was up: Berth ${all('berth', 'lastUp')}; Swarm stop-first ${all('swarm-stop', 'lastUp')}; start-first ${all('swarm-start', 'lastUp')}.`,
    `Same-round ratios (wall), Berth ÷ Swarm stop-first: ${sameRound('swarm-stop', 'wall')}; Berth ÷ Swarm start-first: ${sameRound('swarm-start', 'wall')}. Until last up, Berth ÷ stop-first: ${sameRound('swarm-stop', 'lastUp')}; ÷ start-first: ${sameRound('swarm-start', 'lastUp')}.`,
    `Failed / total requests per round: Berth ${perRound('berth')}; Swarm stop-first ${perRound('swarm-stop')}; start-first ${perRound('swarm-start')}. What failed: Berth ${kinds('berth')}; Swarm stop-first ${kinds('swarm-stop')}; start-first ${kinds('swarm-start')}.`,
    '',
    `**Result**: Berth's rolling update is ${versus('swarm-stop')} and ${versus('swarm-start')}, with ${failed('berth')} failed requests of ${total('berth')} (Swarm: ${failed('swarm-stop')} of ${total('swarm-stop')} stop-first, ${failed('swarm-start')} of ${total('swarm-start')} start-first).`,
    '',
    'Notes:',
    `- What each includes. Berth's time is the whole \`berth release\` process: the release recorded, the plan journaled, the front door synced, then per instance: drained in HAProxy (new requests go elsewhere; waits ≤ ${DRAIN} for those in flight), the old container set aside, the new one started on the same slot (same IP and MAC on flat, same host port on nat), health-gated (Berth probes \`GET /\` every 100 ms), put in the front door, the old one removed; a last converge. Swarm's is the whole \`docker service update\` process, which returns only after Swarm's update monitor (\`--update-monitor\`, 5 s by default: "verify: Waiting 5 seconds to verify that tasks are stable"); "until the last new instance was up" leaves that out: the time Swarm recorded for the last new task reaching \`running\`, which it does once the container's health check passed (the engine's check runs every ${HEALTH.interval}, so each task takes at least that); Berth's is when its last "in the front door" line came.`,
    `- Where the time goes, per instance (medians over all rounds). Berth: the new container healthy ${each('berth', 'started')} after Berth began creating it (its gate probes every 100 ms), one instance every ${step('berth')}. Swarm stop-first: the old task stopped ${each('swarm-stop', 'stopped')} after Swarm created the new one (Swarm takes a task out of its DNS and load balancing, then waits a hard-coded 2 s, \`defaultGossipConvergeDelay\` in moby's \`daemon/cluster/executor/container/controller.go\`, before it sends the stop signal), then the new one running ${each('swarm-stop', 'started')} later (Swarm calls a task running once the engine's health check passed, and the engine runs the first check ${HEALTH.interval} after the start), one instance every ${step('swarm-stop')}. Swarm start-first: the new task running ${each('swarm-start', 'started')} after its creation, the old one's 2 s and stop overlapping the next instance, one instance every ${step('swarm-start')}.`,
    `- The front. ${mesh ? `Swarm's side went through its ingress routing mesh.` : `Swarm's side did **not** go through its ingress routing mesh: ${setup.swarm.chosen === 'flag' ? 'chosen with `--swarm-front haproxy`' : "the routing mesh needs IPVS, and this machine's kernel has none (no /proc/net/ip_vs, no ip_vs module; dockerd logs \"Could not get ipvs family information from the kernel … Native loadbalancing will not work\", and a port published in ingress mode does not answer)"}. So it went through ${swarmFront}: the documented way to run HAProxy on Swarm, and the same load balancer with the same retry rules as Berth's, so the difference is how each learns of a change: Berth tells HAProxy through its runtime API before an instance goes (drain) and after it is healthy; Swarm removes a task from its DNS when it stops it and adds it once healthy, and the front sees either within about a second (DNS, health checks), meanwhile retrying on another task. On a kernel with IPVS, \`--swarm-front mesh\` (what \`auto\` picks there) measures the routing mesh as is.`}`,
    `- stop-first (Swarm's default) stops the old task before starting the new one: ${REPLICAS - 1} of ${REPLICAS} serve during each step, as with Berth (\`max_unavailable: 1\`, no surge). start-first starts the new one first (${REPLICAS + 1} for a moment); Berth can do that with \`max_surge\`.`,
    ...(NETWORK === 'flat'
      ? ["- Berth ran on a flat network (the default here); `--network nat` runs the same update on nat, each instance publishing 8080 on the host port its slot keeps."]
      : []),
    '- Everything shares the 2 cores: the load generator (in the benchmark\'s process), both sets of 10 containers with their health checks every second, dockerd, both fronts.',
  ];
  writeSection('release', lines.join('\n'));
  console.log(lines.join('\n'));
}

await main();
