/**
 * Fleet benchmark (issue 11), in one run on a lab of three real engines
 * (src/testing/lab.ts: dockerds in network namespaces on one LAN bridge),
 * Berth reaching them at tcp://IP:2376 with mutual TLS, the image pulled by
 * digest from Berth's registry on the LAN address (TLS, htpasswd):
 *  1. deploy 60 flat instances over the three hosts, health-gated:
 *     `berth deploy web --env production`, the whole CLI process, against the
 *     engines' raw parallel create + start of the same 60 containers (same
 *     image, same static IPs and MACs on the same flat Docker networks, through
 *     the same TLS endpoints, all at once, no health gate), alternating, the
 *     median of N rounds; everything removed between rounds;
 *  2. `berth host drain h2` of a host holding 20 of the instances (health-gated
 *     moves to h1 and h3, keeping IP and MAC, with the ARP checks), the median
 *     of a few runs (undrain, remove, redeploy between them).
 * The image is on every host before anything is timed (a warm-up deploy pulls
 * it), so neither side's time includes a pull.
 * Removes everything it made, on failure and on Ctrl-C too. Writes its figures to BENCHMARKS.md.
 * Run: npm run bench:fleet -- [--rounds N] [--drains N]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { parse, stringify } from 'yaml';
import { loadProject } from '../src/config/project.js';
import { connectHost, type Engine } from '../src/engine/client.js';
import { rawHost, type RawEngine } from '../src/testing/raw-engine.js';
import { registryDown, registryUp } from '../src/registry/process.js';
import { build, freePort, push, target } from '../src/registry/testing.js';
import { registerCleanup } from '../src/testing/cleanup.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../src/testing/fixture.js';
import { startLab, type Lab } from '../src/testing/lab.js';
import { BERTH, loadNote, machine, median, ms, positiveFlag, spawnTimed, writeSection, type Finished } from './lib.js';

const REPLICAS = 60;
const ROUNDS = positiveFlag('--rounds') ?? 3;
const DRAINS = positiveFlag('--drains') ?? 2;
const SERVICE = 'web';
const ENV = 'production';
const DRAINED = 'h2';
/**
 * A probe's timeout of 1.5 s (so an interval of 2 s: the timeout must be shorter), not 0.5 s: with every
 * engine, instance and probe on 2 shared cores, an answer that takes longer than half a second is load,
 * not an unhealthy instance (a run at load 30 failed its warm-up deploy on three 500 ms time-outs in a
 * row). Berth's gate probes every 100 ms until the first pass either way.
 */
const HEALTH = { http: '/health.html', interval: '2s', timeout: '1500ms', unhealthy_after: 5 };
const ROLLOUT = { batch_size: 5, max_unavailable: 5, drain: '0s' };
/** Generous: the machine is shared by many; a CLI taking longer than this is killed and the run fails. */
const CLI_TIMEOUT_MS = 900_000;
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

interface Slot {
  slot: string;
  host: string;
  ip: string;
  mac: string;
}

interface CreateBody {
  host: string;
  name: string;
  body: Record<string, unknown>;
}

/** Runs a Berth command as its own process, timed; throws unless it exits 0. Each stdout line gets its time since the start. */
async function berth(fixture: Fixture, args: string[]): Promise<Finished & { lines: { at: number; text: string }[] }> {
  const lines: { at: number; text: string }[] = [];
  const t0 = Date.now();
  const { child, done } = spawnTimed('node', [BERTH, ...args, '-p', fixture.dir], { env: fixture.env, onLine: (text) => lines.push({ at: Date.now() - t0, text }) });
  const timer = setTimeout(() => child.kill('SIGTERM'), CLI_TIMEOUT_MS);
  try {
    const finished = await done;
    if (finished.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${finished.code ?? finished.signal}:\n${finished.stdout.slice(-4000)}\n${finished.stderr.slice(-4000)}`);
    return { ...finished, lines };
  } finally {
    clearTimeout(timer);
  }
}

// --- set-up ---------------------------------------------------------------------

async function setUp(): Promise<{ fixture: Fixture; lab: Lab; engines: Map<string, Engine>; raws: Map<string, RawEngine> }> {
  const fixture = await makeFixture({
    base: { settings: { root: { tarball: await tinyRootTarball() } } },
    web: {
      settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
      static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\necho ok > /www/health.html\n',
    },
  });
  const lab = await startLab({ hosts: 3, dir: fixture.dir });
  const address = `${lab.hostIp}:${await freePort()}`;
  const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, unknown>;
  fixture.write(
    'berth.yaml',
    stringify({
      ...yaml,
      registry: { listen: address, htpasswd: 'htpasswd', username: 'berth', password: { env: 'BENCH_REGISTRY_PASSWORD' } },
      hosts: lab.hosts.map((h) => ({ name: h.name, engine: h.engine, tls: h.tls, address: h.ip })),
      networks: { lan: { mode: 'flat', bridge: lab.bridge, subnet: lab.subnet, gateway: lab.gateway, range: `${lab.address(100)}-${lab.address(199)}`, quarantine: '0s' } },
      services: { [SERVICE]: { image: 'web', ports: [8080], health: HEALTH, stop_grace: '1s', rollout: ROLLOUT } },
      environments: { [ENV]: { network: 'lan', hosts: lab.hosts.map((h) => h.name), services: { [SERVICE]: { replicas: REPLICAS } } } },
      pipeline: [ENV],
    }),
  );
  fixture.env.BENCH_REGISTRY_PASSWORD = PASSWORD;
  fixture.write('htpasswd', `berth:${bcrypt.hashSync(PASSWORD, 10)}\n`);
  const built = await build(fixture);
  if (built.failed.length > 0) throw new Error(`build failed: ${JSON.stringify(built.failed)}`);
  await registryUp(target(fixture));
  // Recorded by the lab too, so a killed run's sweep removes the CA it installed.
  lab.trustRegistry(address, readFileSync(loadProject(fixture.dir, fixture.env).registry.tls!.ca!, 'utf8'));
  const pushed = await push(fixture);
  if (pushed.failed.length > 0) throw new Error(`push failed: ${JSON.stringify(pushed.failed)}`);
  const project = loadProject(fixture.dir, fixture.env);
  const engines = new Map(project.hosts.map((h) => [h.name, connectHost(h)]));
  const raws = new Map(project.hosts.map((h) => [h.name, rawHost(h)]));
  return { fixture, lab, engines, raws };
}

// --- the two contenders ------------------------------------------------------------

/** Berth's instances as the engines run them: each slot's host, IP and MAC. */
async function berthSlots(fixture: Fixture, engines: Map<string, Engine>): Promise<Slot[]> {
  const slots: Slot[] = [];
  for (const [host, engine] of engines) {
    for (const c of await engine.containers.summaries([`berth.project=${fixture.name}`, `berth.service=${SERVICE}`])) {
      const state = await engine.containers.inspect(c.id);
      const endpoint = state && Object.values(state.networks)[0];
      if (state?.running && endpoint) slots.push({ slot: c.labels['berth.instance']!, host, ip: endpoint.ip, mac: endpoint.mac.toLowerCase() });
    }
  }
  return slots.sort((a, b) => a.slot.localeCompare(b.slot, 'en', { numeric: true }));
}

/**
 * The raw side's create bodies, copied from what Berth created (image reference by digest, command,
 * init, network, static IP and MAC), under other names and without Berth's labels but the project's.
 */
async function rawBodies(fixture: Fixture, engines: Map<string, Engine>, raws: Map<string, RawEngine>, slots: Slot[]): Promise<CreateBody[]> {
  return Promise.all(
    slots.map(async (s, i) => {
      const engine = engines.get(s.host)!;
      const [summary] = await engine.containers.summaries([`berth.project=${fixture.name}`, `berth.instance=${s.slot}`]);
      const raw = await raws.get(s.host)!.json<{ Config: Record<string, unknown>; HostConfig: Record<string, unknown> }>('GET', `/containers/${summary!.id}/json`);
      const network = raw.HostConfig.NetworkMode as string;
      const config = raw.Config;
      return {
        host: s.host,
        name: `${fixture.name}.raw-${i + 1}`,
        body: {
          Image: config.Image,
          Cmd: config.Cmd,
          Entrypoint: config.Entrypoint,
          Env: config.Env,
          WorkingDir: config.WorkingDir,
          User: config.User,
          Hostname: `raw-${i + 1}`,
          MacAddress: s.mac,
          Labels: { 'berth.project': fixture.name },
          HostConfig: { NetworkMode: network, Init: raw.HostConfig.Init ?? true },
          NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: s.ip } } } },
        },
      };
    }),
  );
}

/** All 60 at once: create, then start, each on its host's engine; resolves when every start returned. */
async function rawDeploy(engines: Map<string, RawEngine>, bodies: CreateBody[]): Promise<{ ms: number; ids: { host: string; id: string }[] }> {
  const t0 = process.hrtime.bigint();
  const ids = await Promise.all(
    bodies.map(async (b) => {
      const engine = engines.get(b.host)!;
      const { Id } = await engine.json<{ Id: string }>('POST', '/containers/create', { query: { name: b.name }, body: b.body, timeoutMs: 300_000 });
      await engine.empty('POST', `/containers/${Id}/start`, { timeoutMs: 300_000 });
      return { host: b.host, id: Id };
    }),
  );
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ids };
}

async function rawRemove(engines: Map<string, RawEngine>, ids: { host: string; id: string }[]): Promise<void> {
  await Promise.all(ids.map((c) => engines.get(c.host)!.empty('DELETE', `/containers/${c.id}`, { query: { force: 'true' }, timeoutMs: 300_000 })));
}

/** Until no container of the project is left on the lab hosts (berth rm returns once they are removed; this is a check). */
async function assertEmpty(fixture: Fixture, engines: Map<string, Engine>): Promise<void> {
  for (const [host, engine] of engines) {
    const left = await engine.containers.summaries([`berth.project=${fixture.name}`]);
    if (left.length > 0) throw new Error(`${left.length} container(s) of the benchmark left on ${host}: ${left.map((c) => c.name).join(', ')}`);
  }
}

// --- rounds ------------------------------------------------------------------------

interface DeploySample {
  berth: number;
  raw: number;
  /** Berth's process: when its first "starting" line came, and its last "healthy" line. */
  firstLaunch: number;
  lastHealthy: number;
  healthyIn: number[];
}

const healthyMs = (text: string) => {
  const match = /healthy in (\d+(?:\.\d+)?) ?(ms|s)/.exec(text);
  return match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : undefined;
};

async function deployRound(fixture: Fixture, engines: Map<string, Engine>, raws: Map<string, RawEngine>, bodies: CreateBody[], berthFirst: boolean): Promise<DeploySample> {
  let berthMs = 0;
  let rawMs = 0;
  let timeline = { firstLaunch: NaN, lastHealthy: NaN, healthyIn: [] as number[] };
  const runBerth = async () => {
    const run = await berth(fixture, ['deploy', SERVICE, '--env', ENV, '--timeout', '300s']);
    berthMs = run.ms;
    const launches = run.lines.filter((l) => l.text.startsWith('→ '));
    const ready = run.lines.filter((l) => l.text.startsWith('✓ '));
    if (ready.length !== REPLICAS) throw new Error(`berth deploy reported ${ready.length} healthy instances, not ${REPLICAS}:\n${run.stdout.slice(-3000)}`);
    timeline = { firstLaunch: launches[0]?.at ?? NaN, lastHealthy: ready.at(-1)!.at, healthyIn: ready.map((l) => healthyMs(l.text)).filter((n): n is number => n !== undefined) };
    await berth(fixture, ['rm', SERVICE, '--env', ENV]);
    await assertEmpty(fixture, engines);
  };
  const runRaw = async () => {
    const raw = await rawDeploy(raws, bodies);
    rawMs = raw.ms;
    await rawRemove(raws, raw.ids);
    await assertEmpty(fixture, engines);
  };
  for (const run of berthFirst ? [runBerth, runRaw] : [runRaw, runBerth]) await run();
  return { berth: berthMs, raw: rawMs, ...timeline };
}

interface DrainSample {
  ms: number;
  moved: number;
  firstMove: number;
  arpCheck: number[];
  announce: number[];
  healthyIn: number[];
}

async function drainRound(fixture: Fixture, engines: Map<string, Engine>): Promise<DrainSample> {
  await berth(fixture, ['deploy', SERVICE, '--env', ENV, '--timeout', '300s']);
  const before = await berthSlots(fixture, engines);
  const leaving = before.filter((s) => s.host === DRAINED);
  if (leaving.length !== REPLICAS / 3) throw new Error(`${DRAINED} holds ${leaving.length} instances, not ${REPLICAS / 3}`);
  const run = await berth(fixture, ['host', 'drain', DRAINED, '--timeout', '300s']);
  const after = await berthSlots(fixture, engines);
  for (const s of leaving) {
    const now = after.find((a) => a.slot === s.slot);
    if (!now || now.host === DRAINED || now.ip !== s.ip || now.mac !== s.mac) throw new Error(`${s.slot} did not move keeping its address: was ${JSON.stringify(s)}, now ${JSON.stringify(now)}`);
  }
  const numbers = (pattern: RegExp) => run.lines.map((l) => pattern.exec(l.text)).filter((m) => m !== null).map((m) => Number(m![1]));
  const sample = {
    ms: run.ms,
    moved: leaving.length,
    firstMove: run.lines.find((l) => / starting$| nobody answers/.test(l.text))?.at ?? NaN,
    arpCheck: numbers(/checked from \S+ in (\d+) ms/),
    announce: numbers(/announced \S+ on the LAN from \S+ in (\d+) ms/),
    healthyIn: numbers(/healthy in (\d+) ms/),
  };
  await berth(fixture, ['host', 'undrain', DRAINED]);
  await berth(fixture, ['rm', SERVICE, '--env', ENV]);
  await assertEmpty(fixture, engines);
  return sample;
}

// --- main, report ------------------------------------------------------------------

async function main() {
  let fixture: Fixture | undefined;
  let lab: Lab | undefined;
  let registry = false;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const report = (error: unknown) => console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
      if (registry && fixture) await registryDown(target(fixture)).catch(report);
      await lab?.dispose().catch(report);
      await fixture?.cleanup().catch(report);
    })());
  // Registered after the fixture's and the lab's own, so on a signal it runs first (newest first).
  let unregister = () => {};
  try {
    const t0 = Date.now();
    const setup = await setUp();
    ({ fixture, lab } = setup);
    registry = true;
    unregister = registerCleanup('fleet benchmark', cleanup);
    const { engines, raws } = setup;
    console.log(`lab of ${lab.hosts.length} hosts, registry, build and push: ${ms(Date.now() - t0)}`);

    // Warm-up: pulls the digest on every host and creates the flat network there; its instances give the raw side its bodies.
    const warm = await berth(fixture, ['deploy', SERVICE, '--env', ENV, '--timeout', '600s']);
    const pulls = warm.stdout.split('\n').filter((l) => / pulled /.test(l));
    const slots = await berthSlots(fixture, engines);
    if (slots.length !== REPLICAS) throw new Error(`the warm-up deploy runs ${slots.length} instances, not ${REPLICAS}`);
    const perHost = [...engines.keys()].map((h) => `${h} ${slots.filter((s) => s.host === h).length}`).join(', ');
    const bodies = await rawBodies(fixture, engines, raws, slots);
    console.log(`warm-up deploy ${ms(warm.ms)} (${pulls.length} pull(s): ${pulls.join('; ')}); ${perHost}`);
    await berth(fixture, ['rm', SERVICE, '--env', ENV]);
    await assertEmpty(fixture, engines);

    const deploys: DeploySample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sample = await deployRound(fixture, engines, raws, bodies, round % 2 === 0);
      deploys.push(sample);
      console.log(`round ${round + 1} (${round % 2 === 0 ? 'Berth first' : 'raw first'}): berth deploy ${ms(sample.berth)}, raw create+start ${ms(sample.raw)}, ratio ${(sample.berth / sample.raw).toFixed(2)}×; Berth's first launch at ${ms(sample.firstLaunch)}, last healthy at ${ms(sample.lastHealthy)}, median healthy-in ${ms(median(sample.healthyIn))}`);
    }
    const drains: DrainSample[] = [];
    for (let run = 0; run < DRAINS; run++) {
      const sample = await drainRound(fixture, engines);
      drains.push(sample);
      console.log(`drain ${run + 1}: ${ms(sample.ms)} for ${sample.moved} instances (${ms(sample.ms / sample.moved)} each); ARP check median ${ms(median(sample.arpCheck))}, announce ${ms(median(sample.announce))}, healthy-in ${ms(median(sample.healthyIn))}`);
    }
    report(deploys, drains, perHost, lab);
  } finally {
    unregister();
    await cleanup();
  }
}

function report(deploys: DeploySample[], drains: DrainSample[], perHost: string, lab: Lab): void {
  const b = median(deploys.map((d) => d.berth));
  const r = median(deploys.map((d) => d.raw));
  const d = median(drains.map((x) => x.ms));
  const moved = drains[0]!.moved;
  const all = (values: number[]) => values.map(ms).join(', ');
  const lines = [
    '## Fleet (issue 11)',
    '',
    `Reproduce: \`npm run bench:fleet\` (\`node dist/bench/fleet.js --rounds ${ROUNDS} --drains ${DRAINS}\`). Machine: ${machine()}; ${loadNote()}; shared with other engineers' builds and tests while it ran, so the figures are noisy.`,
    '',
    `A lab of ${lab.hosts.length} real Docker Engines (\`src/testing/lab.ts\`: a dockerd each in its own network namespace, one LAN bridge), all on this machine's 2 cores. Berth reaches them at \`tcp://IP:2376\` with mutual TLS; the image (busybox \`httpd\` on the tiny busybox root) is pulled by digest from Berth's registry on the LAN address (generated TLS, htpasswd). One flat network on the LAN bridge (each instance its own IP and MAC). Health check \`GET ${HEALTH.http}\` (interval ${HEALTH.interval}, timeout ${HEALTH.timeout}, unhealthy after ${HEALTH.unhealthy_after} failed probes in a row), which Berth's gate probes from its side every 100 ms until it passes.`,
    '',
    '| what | median | all rounds |',
    '|---|---|---|',
    `| **Berth**: \`berth deploy ${SERVICE} --env ${ENV}\`, ${REPLICAS} flat instances (${perHost}), health-gated, whole CLI process | ${ms(b)} | ${all(deploys.map((x) => x.berth))} |`,
    `| **raw Engine API**: the same ${REPLICAS} containers created and started all at once (\`POST /containers/create\` + \`/start\`), same image by digest, same IPs and MACs on the same flat Docker networks, same TLS endpoints, from a process already running; no health gate | ${ms(r)} | ${all(deploys.map((x) => x.raw))} |`,
    `| **Berth ÷ raw** (target ≤ 1.25×) | **${(b / r).toFixed(2)}×** | ${deploys.map((x) => `${(x.berth / x.raw).toFixed(2)}×`).join(', ')} |`,
    `| **drain**: \`berth host drain ${DRAINED}\`, ${moved} instances moved to the other two hosts (batches of ${ROLLOUT.batch_size}, health-gated, IP and MAC kept, ARP checks), whole CLI process | ${ms(d)} (${ms(d / moved)} per instance) | ${all(drains.map((x) => x.ms))} |`,
    '',
    `Median of ${ROUNDS} rounds, the two alternating (odd rounds Berth first, even rounds raw first); everything removed between them (\`berth rm\`; the raw containers force-removed). The image was on every host before anything was timed: a warm-up \`berth deploy\` pulled it (once per host) and made the flat Docker network on each, so neither side's time includes a pull or a network creation. Drain: median of ${DRAINS} runs, each on a fresh deploy of ${REPLICAS} (undrain and \`berth rm\` between runs).`,
    '',
    'Where the time goes:',
    `- Berth's deploy (medians): its first instance launch began ${ms(median(deploys.map((x) => x.firstLaunch)))} into the process (node start-up, loading the project, the preflight of every host over TLS, the lock, the release, placement over the hosts' capacity, observing every host, the plan); the last instance was healthy at ${ms(median(deploys.map((x) => x.lastHealthy)))}; each instance was healthy ${ms(median(deploys.flatMap((x) => x.healthyIn)))} after its launch began (create, start, inspect, health gate).`,
    `- The drain: the first move began ${ms(median(drains.map((x) => x.firstMove)))} into the process; per moved instance the duplicate-address check (\`arping -D\` from a helper container on the new host) took ${ms(median(drains.flatMap((x) => x.arpCheck)))}, the announcement (\`arping -U\`) ${ms(median(drains.flatMap((x) => x.announce)))}, healthy ${ms(median(drains.flatMap((x) => x.healthyIn)))} after its launch began.`,
    '- The raw side is the best a script could do: no health gate, no IPAM ledger, no journal, no preflight, no image check, no process start-up.',
    `- Everything (three dockerds, their containers, Berth, the registry) shares the 2 cores with whatever else runs: the load average was ${loadavg().map((l) => l.toFixed(0)).join(' / ')} (1 / 5 / 15 min) when the run ended. Under such load the engines are the bottleneck: each instance spends most of its "healthy in" time inside the engine's create and start.`,
  ];
  writeSection('fleet', lines.join('\n'));
  console.log(lines.join('\n'));
}

await main();
