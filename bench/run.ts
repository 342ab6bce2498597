/**
 * Run benchmark (issue 4), in one run: 30 instances of one service (busybox
 * httpd, a one-image hierarchy) on a flat network, each with a static IP and MAC:
 *  1. Berth: `berth deploy web --env bench`, whole CLI process, health-gated;
 *  2. a sequential loop of 30 × `docker run` (Debian's docker 20.10 client);
 *  3. docker-compose 1.29 `up -d --scale web=30` on the same (external) network;
 *  4. the engine's raw parallel create+start of Berth's own 30 container bodies (Promise.all);
 *  5. (for reference) the same, 16 at a time: Berth's fixed deploy concurrency before issue 24;
 *  6. (for reference) raw parallel again without the engine's own (exec) health check in the bodies: what
 *     that check costs while the instances start;
 *  7. with `--before PATH` (an earlier build's bin/berth.js): that build's `berth deploy`, in the same rounds.
 * Every round runs all five, in a rotating order, removing everything between
 * them; for 2–5 it also times until all 30 answer HTTP from the host.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench:run -- [--rounds N] [--before PATH] [--without loop,raw16]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ServiceSpec } from '../src/config/model.js';
import { loadProject } from '../src/config/project.js';
import { connectEngine, type Engine } from '../src/engine/client.js';
import { Semaphore } from '../src/imaging/semaphore.js';
import { slotBody } from '../src/runtime/instance-spec.js';
import { macFor } from '../src/network/addresses.js';
import { dockerNetworkName, ensureNetwork, removeNetwork } from '../src/network/docker-network.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../src/testing/fixture.js';
import { sleep } from '../src/time.js';
import { BERTH, DOCKER, DOCKER_ENV, Interruption, invocation, loadNote, machine, median, ms, pickSubnet, positiveFlag, rotated, stringFlag, timed, writeSection } from './lib.js';

const REPLICAS = 30;
const ROUNDS = positiveFlag('--rounds') ?? 5;
const BEFORE = stringFlag('--before');
const ALL_CONTENDERS = ['berth', 'loop', 'compose', 'raw', 'raw16', 'rawNoCheck', 'before'] as const;
type Contender = (typeof ALL_CONTENDERS)[number];
/** `--without loop,raw16`: contenders left out of a run (on a loaded machine the loop alone takes minutes). */
const WITHOUT = new Set((stringFlag('--without') ?? '').split(',').filter(Boolean));
const CONTENDERS = ALL_CONTENDERS.filter((c) => (c !== 'before' || BEFORE !== undefined) && !WITHOUT.has(c));
const BENCH_LABEL = 'berth-bench.run';
const HEALTH = { path: '/', interval: '1s', timeout: '500ms', retries: 3 };
const SETTLE_MS = 2000;
const ANSWER_TIMEOUT_MS = 60_000;
/** Berth's fixed number of parallel launches before issue 24 (now it follows each engine's latency). */
const BERTH_CONCURRENCY = 16;

interface Setup {
  run: string;
  fixture: Fixture;
  engine: Engine;
  work: string;
  /** The first three octets of the /24, e.g. "10.173.42". */
  prefix: string;
  bridge: string;
  dockerNetwork: string;
  imageId: string;
  imageTag: string;
  service: ServiceSpec;
  host: string;
  apiVersion: string;
  composeFile: string;
  composeProject: string;
}

interface Sample {
  /** The contender's own wall time. */
  wall: number;
  /** From the same start until every instance answered GET / from the host. */
  answered: number;
  /** Removing the 30 instances (not compared). */
  cleanup: number;
}

/** Set by SIGINT/SIGTERM: the rounds stop at the next step. */
const interruption = new Interruption();

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** The static addresses the loop and the raw run use: those Berth's IPAM hands out first (range start, MAC from the IP). */
const addressOf = (prefix: string, i: number) => {
  const ip = `${prefix}.${10 + i}`;
  return { ip, mac: macFor(ip, '02:42') };
};

/** GET http://ip:8080/ once; true on a 2xx. */
function answers(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 8080, path: HEALTH.path, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.once('timeout', () => (req.destroy(), resolve(false)));
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** Probes every address (all at once, again every 100 ms like Berth's gate) until each has answered. */
async function untilAllAnswer(ips: string[]): Promise<void> {
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  let pending = ips;
  while (pending.length > 0) {
    interruption.check();
    const results = await Promise.all(pending.map(async (ip) => ((await answers(ip)) ? undefined : ip)));
    pending = results.filter((ip): ip is string => ip !== undefined);
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`no HTTP answer after ${ANSWER_TIMEOUT_MS / 1000} s from ${pending.join(', ')}`);
    await sleep(100);
  }
}

/** Containers on the Docker network: name → IPv4 and MAC, as the engine applied them. */
async function members(setup: Setup): Promise<Map<string, { ip: string; mac: string }>> {
  type Network = { Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }> | null };
  const network = await setup.fixture.raw.json<Network>('GET', `/networks/${encodeURIComponent(setup.dockerNetwork)}`);
  return new Map(Object.values(network.Containers ?? {}).map((c) => [c.Name, { ip: c.IPv4Address.split('/')[0]!, mac: c.MacAddress.toLowerCase() }]));
}

/**
 * Exactly REPLICAS containers on the network; 'exact': on the static addresses .10–.39 with their MACs;
 * 'static': each in the range with the MAC Berth derives from its IP; 'any': wherever the engine put them.
 */
async function verify(setup: Setup, what: string, check: 'exact' | 'static' | 'any'): Promise<string[]> {
  const found = [...(await members(setup)).values()];
  if (found.length !== REPLICAS) throw new Error(`${what}: ${found.length} containers on ${setup.dockerNetwork}, expected ${REPLICAS}`);
  if (check === 'static') {
    const wrong = found.filter((f) => !f.ip.startsWith(`${setup.prefix}.`) || Number(f.ip.split('.')[3]) < 10 || Number(f.ip.split('.')[3]) > 200 || f.mac !== macFor(f.ip, '02:42'));
    if (wrong.length > 0) throw new Error(`${what}: not on a static address of the range: ${wrong.map((w) => `${w.ip} (${w.mac})`).join(', ')}`);
  }
  if (check === 'exact') {
    const want = Array.from({ length: REPLICAS }, (_, i) => addressOf(setup.prefix, i));
    const missing = want.filter((w) => !found.some((f) => f.ip === w.ip && f.mac === w.mac));
    if (missing.length > 0) throw new Error(`${what}: no container at ${missing.map((m) => `${m.ip} (${m.mac})`).join(', ')}`);
  }
  return found.map((f) => f.ip);
}

/** Every container of this run, whoever made it: Berth's (project label), the loop's and raw's (bench label), compose's. */
async function removeAll(engine: Engine, project: string, run: string): Promise<void> {
  const labels = [`berth.project=${project}`, `berth.project=${project}-raw`, `${BENCH_LABEL}=${run}`, `com.docker.compose.project=${composeProjectOf(run)}`];
  const ids = new Set((await Promise.all(labels.map((l) => engine.containers.list([l])))).flat());
  await Promise.all([...ids].map((id) => engine.containers.remove(id)));
}

const composeProjectOf = (run: string) => `berthbench${run}`;

async function emptyNetwork(setup: Setup, what: string): Promise<void> {
  const left = await members(setup);
  if (left.size > 0) throw new Error(`after ${what}: ${left.size} containers still on ${setup.dockerNetwork}: ${[...left.keys()].join(', ')}`);
}

// --- the contenders ------------------------------------------------------------

async function berth(setup: Setup, bin = BERTH): Promise<Sample> {
  const args = ['-p', setup.fixture.dir];
  const wall = timed('node', [bin, 'deploy', 'web', '--env', 'bench', ...args], { env: setup.fixture.env });
  // Health-gated: when the CLI returns, every instance has answered; the check here only confirms it.
  await untilAllAnswer(await verify(setup, 'berth deploy', 'static'));
  const cleanup = timed('node', [BERTH, 'rm', 'web', '--env', 'bench', ...args], { env: setup.fixture.env });
  return { wall, answered: wall, cleanup };
}

async function loop(setup: Setup): Promise<Sample> {
  const names: string[] = [];
  const t0 = now();
  for (let i = 0; i < REPLICAS; i++) {
    const { ip, mac } = addressOf(setup.prefix, i);
    const name = `bench-${setup.run}-loop-${i + 1}`;
    names.push(name);
    timed(
      DOCKER,
      [
        'run', '-d', '--name', name, '--hostname', name, '--label', `${BENCH_LABEL}=${setup.run}`,
        '--init', '--restart', 'unless-stopped', '--stop-timeout', '10',
        '--network', setup.dockerNetwork, '--ip', ip, '--mac-address', mac, '--network-alias', 'web',
        '--health-cmd', `/opt/berth/bin/health http 8080 ${HEALTH.path}`, '--health-interval', HEALTH.interval, '--health-timeout', HEALTH.timeout, '--health-retries', String(HEALTH.retries),
        setup.imageTag,
      ],
      { env: DOCKER_ENV },
    );
  }
  const wall = now() - t0;
  await untilAllAnswer(Array.from({ length: REPLICAS }, (_, i) => addressOf(setup.prefix, i).ip));
  const answered = now() - t0;
  await verify(setup, 'docker run loop', 'exact');
  const c0 = now();
  await Promise.all(names.map((n) => setup.engine.containers.remove(n)));
  return { wall, answered, cleanup: now() - c0 };
}

async function compose(setup: Setup): Promise<Sample> {
  const args = ['-p', setup.composeProject, '-f', setup.composeFile];
  const wall = timed('docker-compose', [...args, 'up', '-d', '--scale', `web=${REPLICAS}`], { env: DOCKER_ENV });
  // Compose picks the addresses (no static IPs with --scale): looking them up is not counted.
  const ips = await verify(setup, 'docker-compose up', 'any');
  const t1 = now();
  await untilAllAnswer(ips);
  const answered = wall + (now() - t1);
  const cleanup = timed('docker-compose', [...args, 'down'], { env: DOCKER_ENV });
  return { wall, answered, cleanup };
}

async function raw(setup: Setup, limit = REPLICAS, engineCheck = true): Promise<Sample> {
  const bodies = Array.from({ length: REPLICAS }, (_, i) => {
    const { ip, mac } = addressOf(setup.prefix, i);
    const { body } = slotBody({
      project: `${setup.fixture.name}-raw`,
      service: setup.service,
      environment: 'bench',
      env: setup.service.env,
      slot: `bench-${setup.run}-raw${limit}-${i + 1}`,
      host: setup.host,
      image: { id: setup.imageId, digest: setup.imageId },
      network: { mode: 'flat', name: 'lan', dockerName: setup.dockerNetwork, ip, mac },
      apiVersion: setup.apiVersion,
      hostPorts: {},
    });
    if (!engineCheck) delete body.Healthcheck;
    return body;
  });
  const semaphore = new Semaphore(limit);
  const t0 = now();
  const ids = await Promise.all(
    bodies.map((body) =>
      semaphore.run(async () => {
        const id = await setup.engine.containers.create(body);
        await setup.engine.containers.start(id);
        return id;
      }),
    ),
  );
  const wall = now() - t0;
  await untilAllAnswer(Array.from({ length: REPLICAS }, (_, i) => addressOf(setup.prefix, i).ip));
  const answered = now() - t0;
  await verify(setup, `raw (${limit} at a time)`, 'exact');
  const c0 = now();
  await Promise.all(ids.map((id) => setup.engine.containers.remove(id)));
  return { wall, answered, cleanup: now() - c0 };
}

const RUNNERS: Record<Contender, (setup: Setup) => Promise<Sample>> = {
  berth: (setup) => berth(setup),
  loop,
  compose,
  raw: (setup) => raw(setup),
  raw16: (setup) => raw(setup, BERTH_CONCURRENCY),
  rawNoCheck: (setup) => raw(setup, REPLICAS, false),
  before: (setup) => berth(setup, BEFORE),
};

// --- set-up, rounds, report ------------------------------------------------------

async function prepareSetup(run: string, work: string, fixtureRef: { fixture?: Fixture }, networkRef: { name?: string; bridge?: string }): Promise<Setup> {
  const root = await tinyRootTarball();
  const bridge = `brun${run}`;
  networkRef.bridge = bridge;
  const prefix = await pickSubnet(connectEngine());
  const fixture = await makeFixture(
    {
      web: {
        settings: { root: { tarball: root }, command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
        static: '#!/bin/sh\nmkdir -p /www\necho "hello from $(hostname)" > /www/index.html\n',
      },
    },
    {
      networks: {
        lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.200`, create_bridge: true, quarantine: '0s' },
      },
      services: { web: { image: 'web', ports: [8080], health: { http: HEALTH.path, interval: HEALTH.interval, timeout: HEALTH.timeout, retries: HEALTH.retries } } },
      environments: { bench: { network: 'lan', services: { web: { replicas: REPLICAS } } } },
    },
  );
  fixtureRef.fixture = fixture;
  const engine = fixture.engine;
  timed('node', [BERTH, 'build', '-p', fixture.dir], { env: fixture.env });
  const images = JSON.parse(spawnSync('node', [BERTH, 'images', '--json', '-p', fixture.dir], { env: fixture.env, encoding: 'utf8' }).stdout) as {
    images: { name: string; imageId: string | null; tag: string | null }[];
  };
  const web = images.images.find((i) => i.name === 'web');
  if (!web?.imageId || !web.tag) throw new Error(`berth build left no image for web: ${JSON.stringify(images)}`);

  const project = loadProject(fixture.dir, fixture.env);
  const lan = project.networks.get('lan')!;
  const environment = project.environments.get('bench')!;
  // The Docker network every contender uses, created beforehand exactly as Berth's deploy would (which then reuses it).
  const dockerNetwork = dockerNetworkName(project.name, lan);
  networkRef.name = dockerNetwork;
  await ensureNetwork(engine, project.name, lan, { local: true });

  const composeProject = composeProjectOf(run);
  const composeFile = join(work, 'docker-compose.yml');
  writeFileSync(
    composeFile,
    stringify({
      version: '2.4',
      services: {
        web: {
          image: web.tag,
          init: true,
          restart: 'unless-stopped',
          stop_grace_period: '10s',
          labels: { [BENCH_LABEL]: run },
          healthcheck: { test: ['CMD', '/opt/berth/bin/health', 'http', '8080', HEALTH.path], interval: HEALTH.interval, timeout: HEALTH.timeout, retries: HEALTH.retries },
          networks: { lan: { aliases: ['web'] } },
        },
      },
      networks: { lan: { external: { name: dockerNetwork } } },
    }),
  );
  return {
    run,
    fixture,
    engine,
    work,
    prefix,
    bridge,
    dockerNetwork,
    imageId: web.imageId,
    imageTag: web.tag,
    service: project.services.get('web')!,
    host: environment.hosts[0]!,
    apiVersion: await engine.apiVersion(),
    composeFile,
    composeProject,
  };
}

function composeVersion(): string {
  const out = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error('docker-compose is missing: apt-get install docker-compose (npm run bench:run installs it)');
  return out.stdout.trim();
}

async function main() {
  const run = randomBytes(3).toString('hex');
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-run-'));
  const fixtureRef: { fixture?: Fixture } = {};
  const networkRef: { name?: string; bridge?: string } = {};
  const removeContainers = (fixture: Fixture) => removeAll(fixture.engine, fixture.name, run).catch((e) => console.error('cleanup:', e));
  const removeEverything = async () => {
    const { fixture } = fixtureRef;
    if (fixture) {
      await removeContainers(fixture);
      // After an interrupt, launches still in flight may create a container or two more.
      if (interruption.interrupted) await sleep(1000).then(() => removeContainers(fixture));
      if (networkRef.name) await removeNetwork(fixture.engine, networkRef.name).catch((e) => console.error('cleanup:', e));
    }
    // The engine deletes the bridge it created with the network; this is for an interrupted creation.
    if (networkRef.bridge && existsSync(`/sys/class/net/${networkRef.bridge}`)) spawnSync('ip', ['link', 'delete', networkRef.bridge]);
    await fixture?.cleanup().catch((e) => console.error('cleanup:', e));
    rmSync(work, { recursive: true, force: true });
  };
  const cleanup = interruption.cleanUpOnSignal(removeEverything);

  try {
    const compose = composeVersion();
    const setup = await prepareSetup(run, work, fixtureRef, networkRef);
    console.log(`network ${setup.dockerNetwork} on bridge ${setup.bridge}, ${setup.prefix}.0/24; image ${setup.imageTag}`);

    // One untimed warm-up (the image's first containers, the network's first endpoints).
    await raw(setup);
    await emptyNetwork(setup, 'the warm-up');

    const samples = new Map<Contender, Sample[]>(CONTENDERS.map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = rotated(CONTENDERS, round);
      for (const contender of order) {
        await sleep(SETTLE_MS);
        interruption.check();
        const sample = await RUNNERS[contender](setup);
        await emptyNetwork(setup, contender);
        samples.get(contender)!.push(sample);
        console.log(`round ${round + 1} ${contender.padEnd(10)} wall ${ms(sample.wall)}, all answer ${ms(sample.answered)}, clean-up ${ms(sample.cleanup)}`);
      }
    }

    const ran = (c: Contender) => (samples.get(c)?.length ?? 0) > 0;
    const med = (c: Contender, key: keyof Sample) => median(samples.get(c)!.map((s) => s[key]));
    const all = (c: Contender, key: keyof Sample) => (ran(c) ? samples.get(c)!.map((s) => ms(s[key])).join(', ') : 'not run');
    const perRound = (other: Contender) => (ran(other) ? samples.get('berth')!.map((b, i) => `${(b.wall / samples.get(other)![i]!.wall).toFixed(2)}×`).join(', ') : 'not run');
    const rawWall = med('raw', 'wall');
    const rawAnswered = med('raw', 'answered');
    const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;
    const berthWall = med('berth', 'wall');
    const wins = (other: Contender) => samples.get('berth')!.filter((b, i) => b.wall < samples.get(other)![i]!.wall).length;
    const versus = (other: Contender, name: string) => {
      if (!ran(other)) return `${name} not run`;
      const x = med(other, 'wall') / berthWall;
      return `${x >= 1 ? `${x.toFixed(2)}× faster` : `${(1 / x).toFixed(2)}× slower`} than ${name} (faster in ${wins(other)} of ${ROUNDS} rounds)`;
    };
    const spread = (c: Contender) => {
      const walls = samples.get(c)!.map((s) => s.wall);
      return `${Math.round(((Math.max(...walls) - Math.min(...walls)) / med(c, 'wall')) * 100)}%`;
    };
    const met = berthWall <= 1.1 * rawWall && (!ran('loop') || berthWall < med('loop', 'wall')) && (!ran('compose') || wins('compose') === ROUNDS);
    const row = (c: Contender, what: string, gated: string) =>
      !ran(c) ? `| ${what} | not run (\`--without\`) | | | |` : `| ${what} | ${ms(med(c, 'wall'))} | ${gated === '' ? ms(med(c, 'answered')) : gated} | ${ratio(med(c, 'wall'), rawWall)} | ${ratio(med(c, 'answered'), rawAnswered)} |`;
    const lines = [
      '## Run (issue 4)',
      '',
      `Reproduce: \`npm run bench:run\` (\`${invocation('run')}\`). Machine: ${machine()}, docker-compose ${compose}; ${loadNote()}.`,
      '',
      `${REPLICAS} instances of one service (busybox \`httpd\`, a one-image hierarchy on the tiny busybox root) on a flat network (a Docker bridge network on its own Linux bridge, no NAT), each with a static IP and MAC, all with the same settings (init, restart policy, the engine's health check). Median of ${ROUNDS} rounds; each round runs all ${CONTENDERS.length} in a rotating order, removes every container between them and waits ${SETTLE_MS / 1000} s; one untimed warm-up first. "All answer" is the time from the same start until every instance answered \`GET /\` from the host (probed every 100 ms, as Berth's gate does).`,
      '',
      `| what | wall time | until all ${REPLICAS} answer HTTP | wall ÷ raw create+start | all answer ÷ raw all answer |`,
      '|---|---|---|---|---|',
      row('berth', `Berth: \`berth deploy web --env bench\`, whole CLI process (plan, addresses written to SQLite first, create+start as many at once as the engine keeps up with, **health-gated**: returns when every instance passed its HTTP check)`, 'same (health-gated)'),
      row('loop', `sequential loop: ${REPLICAS} × \`docker run -d --ip … --mac-address …\` (Debian's docker 20.10 client), not health-gated`, ''),
      row('compose', `docker-compose ${compose}: \`up -d --scale web=${REPLICAS}\` on the same network as an external one; not health-gated, and **no static IPs or MACs** (compose cannot give them with \`--scale\`; the engine picks)`, ''),
      row('raw', `**raw parallel**: the engine's create+start of Berth's own ${REPLICAS} container bodies all at once (\`Promise.all\` over Berth's Engine client), not health-gated`, ''),
      row('raw16', `for reference: the same raw create+start, ${BERTH_CONCURRENCY} at a time (Berth's fixed deploy concurrency before issue 24), not health-gated`, ''),
      row('rawNoCheck', `for reference: raw parallel without the engine's own (exec) health check in the bodies: what that check costs while the instances start`, ''),
      ...(BEFORE ? [row('before', `Berth before issue 24's deploy changes (\`${BEFORE}\`, same rounds): every host listed once per slot, 16 launches at a time`, 'same (health-gated)')] : []),
      '',
      `All rounds (wall): Berth ${all('berth', 'wall')}; loop ${all('loop', 'wall')}; compose ${all('compose', 'wall')}; raw ${all('raw', 'wall')}; raw ${BERTH_CONCURRENCY} at a time ${all('raw16', 'wall')}; raw without the engine's check ${all('rawNoCheck', 'wall')}${BEFORE ? `; Berth before ${all('before', 'wall')}` : ''}. Until all answer: loop ${all('loop', 'answered')}; compose ${all('compose', 'answered')}; raw ${all('raw', 'answered')}; raw ${BERTH_CONCURRENCY} at a time ${all('raw16', 'answered')}; raw without the engine's check ${all('rawNoCheck', 'answered')}.`,
      `Same-round ratios, Berth ÷ raw: ${perRound('raw')}; Berth ÷ compose: ${perRound('compose')}; Berth ÷ loop: ${perRound('loop')}${BEFORE ? `; Berth ÷ Berth before: ${perRound('before')}` : ''}.`,
      `Removal of the ${REPLICAS} (not compared; medians): \`berth rm\` ${ms(med('berth', 'cleanup'))}, \`docker-compose down\` ${ms(med('compose', 'cleanup'))}, parallel force-remove through the API (the loop's, raw's) ${ran('loop') ? ms(med('loop', 'cleanup')) : 'not run'}, ${ms(med('raw', 'cleanup'))}.`,
      '',
      `Target (issue 24): Berth (health-gated) within 1.1× of the raw parallel create+start time and faster than the \`docker run\` loop, and faster than compose in every round. **${met ? 'Met' : 'Not met'}**: ${ratio(berthWall, rawWall)} of raw create+start (${ratio(berthWall, rawAnswered)} of raw until all answer); ${versus('loop', 'the loop')}, ${versus('compose', 'compose')}. Round-to-round spread (max − min over the median): Berth ${spread('berth')}, compose ${ran('compose') ? spread('compose') : 'not run'}, raw ${spread('raw')}.`,
    ];
    writeSection('run', lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await cleanup();
  }
}

await main();
