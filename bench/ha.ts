/**
 * Several servers (issue 21), in one run, SQLite against PostgreSQL:
 *  1. GET /v1/instances with 1,000 instances recorded (50 services × 20 on 50 hosts whose engines are
 *     FakeEngines, src/testing/fake-engine.ts): the app built in this process over each store (SQLite
 *     under a state folder; PostgreSQL in a private cluster, src/testing/postgres.ts), asked over real
 *     HTTP, sequentially and 8 at a time, in alternating blocks; p50 and p99.
 *  2. Takeover: two `berth server` processes on one PostgreSQL database; the leader is killed with
 *     SIGKILL; the time until the other prints that it leads, median of ROUNDS, with the default TTL
 *     (10 s) and with --leader-ttl 3s.
 * Writes its section of BENCHMARKS.md. Run: npm run build && node dist/bench/ha.js [--rounds N] [--requests N]
 *
 * With --rollout, instead, what needs this machine's engine (bench/ha-rollout.ts): the no-op release through a
 * server on each store, and the time from the leader's SIGKILL mid-rollout to the resumed rollout's next step.
 * Its own section. Run: node dist/bench/ha.js --rollout [--rounds N] [--takeovers N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createToken } from '../src/access/tokens.js';
import { collectBundle } from '../src/apply/bundle.js';
import { applyBundle } from '../src/apply/versions.js';
import { buildApp } from '../src/server/app.js';
import { ServerCore } from '../src/server/core.js';
import { closeStore, openStore, openStoreAt } from '../src/store/db.js';
import { FakeEngine } from '../src/testing/fake-engine.js';
import { startPostgres, type PostgresCluster } from '../src/testing/postgres.js';
import { hostName, recordInstances, serviceName } from './fake-fleet.js';
import { rolloutBenchmark, type RolloutFigures } from './ha-rollout.js';
import { BERTH, invocation, loadNote, machine, median, positiveFlag, writeSection } from './lib.js';

const ROUNDS = positiveFlag('--rounds') ?? 5;
const TAKEOVERS = positiveFlag('--takeovers') ?? 3;
const ROLLOUT = process.argv.includes('--rollout');
const REQUESTS = positiveFlag('--requests') ?? 400;
const HOSTS = 50;
const SERVICES = 50;
const PER_SERVICE = 20;
const BLOCKS = 4;
const now = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function writeProject(dir: string, project: string): void {
  const hosts = Array.from({ length: HOSTS }, (_, i) => ({ name: hostName(i), engine: `tcp://10.255.0.${i + 1}:2375`, insecure: true }));
  const services = Object.fromEntries(Array.from({ length: SERVICES }, (_, i) => [serviceName(i), { image: 'web', ports: [8080], replicas: PER_SERVICE }]));
  mkdirSync(join(dir, 'images', 'web'), { recursive: true });
  writeFileSync(join(dir, 'images', 'web', 'static.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'root.tar'), '');
  writeFileSync(join(dir, 'berth.yaml'), stringify({ project, images: { web: { root: { tarball: join(dir, 'root.tar') }, command: ['httpd'] } }, hosts, services, environments: { production: { hosts: hosts.map((h) => h.name), network: 'nat' } }, pipeline: ['production'] }));
}


function get(agent: Agent, url: URL, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Served {
  url: URL;
  token: string;
  close(): Promise<void>;
}

async function serve(kind: 'sqlite' | 'postgres', work: string, cluster: PostgresCluster): Promise<Served> {
  const project = `bha-${kind}-${process.pid}`;
  const dir = join(work, kind);
  mkdirSync(dir, { recursive: true });
  writeProject(dir, project);
  const stateDir = join(dir, 'state');
  const db = kind === 'sqlite' ? await openStore(stateDir) : await openStoreAt(await cluster.createDatabase(`bench_${kind}`), { passwordFile: cluster.passwordFile });
  const env = { ...process.env, BERTH_STATE_DIR: stateDir };
  await applyBundle(db, stateDir, env, collectBundle(dir, join(dir, '.berth')), { actor: 'bench', dryRun: false });
  const fakes = new Map(Array.from({ length: HOSTS }, (_, i) => [hostName(i), new FakeEngine({ endpoint: `tcp://fake-${hostName(i)}` })]));
  await recordInstances(db, project, fakes, { hosts: HOSTS, services: SERVICES, perService: PER_SERVICE, healthy: false });
  const core = new ServerCore(stateDir, db, env, { connect: (spec) => fakes.get(spec.name)! });
  const token = (await createToken(db, { name: 'bench', role: 'viewer', createdBy: 'bench' })).token;
  const app = await buildApp(core);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: new URL(`http://127.0.0.1:${port}/v1/instances`), token, close: async () => (await app.close(), await closeStore(db)) };
}

async function latencies(served: Served, concurrency: number, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const each: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const t0 = now();
        await get(agent, served.url, served.token);
        each.push(now() - t0);
      }
    }),
  );
  agent.destroy();
  return each;
}

/** Two server processes on one database; the leader killed; ms until the other says it leads. */
async function takeover(cluster: PostgresCluster, work: string, round: number, ttl: string | undefined): Promise<number> {
  const url = await cluster.createDatabase(`bench_takeover_${ttl ?? 'default'}_${round}`.replace(/[^a-z0-9_]/g, '_'));
  const start = (name: string) => {
    const state = join(work, `takeover-${ttl ?? 'default'}-${round}-${name}`);
    const child = spawn(process.execPath, [BERTH, 'server', '--state', state, '--listen', '127.0.0.1:0', '--store', url, '--store-password-file', cluster.passwordFile, '--reconcile-interval', '0s', ...(ttl ? ['--leader-ttl', ttl] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    const waiters: { pattern: RegExp; done: (at: number) => void }[] = [];
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      printed += text;
      for (const w of waiters.splice(0)) if (w.pattern.test(printed)) w.done(now()); else waiters.push(w);
    });
    const waitFor = (pattern: RegExp) => new Promise<number>((done) => (pattern.test(printed) ? done(now()) : waiters.push({ pattern, done })));
    return { child, waitFor };
  };
  const a = start('a');
  await a.waitFor(/leading \(epoch 1\)/);
  const b = start('b');
  await b.waitFor(/listening on/);
  const killed = now();
  a.child.kill('SIGKILL');
  const led = await b.waitFor(/leading \(epoch 2\)/);
  b.child.kill('SIGTERM');
  await new Promise((r) => b.child.once('exit', r));
  return led - killed;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-ha-'));
  const cluster = await startPostgres();
  const children: ChildProcess[] = [];
  try {
    if (ROLLOUT) {
      reportRollout(await rolloutBenchmark(cluster, ROUNDS, TAKEOVERS));
      return;
    }
    const stores = { sqlite: await serve('sqlite', work, cluster), postgres: await serve('postgres', work, cluster) };
    const figures: Record<string, number[]> = {};
    for (const kind of ['sqlite', 'postgres'] as const) await latencies(stores[kind], 8, 40); // warm-up
    for (let block = 0; block < BLOCKS; block++) {
      const order = block % 2 ? (['postgres', 'sqlite'] as const) : (['sqlite', 'postgres'] as const);
      for (const kind of order) {
        for (const c of [1, 8]) (figures[`${kind}/${c}`] ??= []).push(...(await latencies(stores[kind], c, Math.ceil(REQUESTS / BLOCKS))));
      }
    }
    for (const s of Object.values(stores)) await s.close();
    const rows = (['sqlite', 'postgres'] as const).flatMap((kind) => [1, 8].map((c) => {
      const each = figures[`${kind}/${c}`]!;
      return `| ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${c} | ${percentile(each, 50).toFixed(1)} | ${percentile(each, 99).toFixed(1)} |`;
    }));
    const ratio = (c: number) => (percentile(figures[`postgres/${c}`]!, 50) / percentile(figures[`sqlite/${c}`]!, 50)).toFixed(2);

    const takeovers: Record<string, number[]> = { '10s (default)': [], '3s': [] };
    for (let round = 0; round < ROUNDS; round++) {
      takeovers['10s (default)']!.push(await takeover(cluster, work, round, undefined));
      takeovers['3s']!.push(await takeover(cluster, work, round, '3s'));
    }
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    writeSection(
      'ha',
      [
        '## Several servers: SQLite vs PostgreSQL, and the leader\'s takeover (issue 21)',
        '',
        `${machine()}, load ${load}. Command: \`npm run build && ${invocation('ha')}\`.`,
        '',
        `GET /v1/instances with 1,000 instances recorded (50 services × 20 on 50 hosts answered by FakeEngines), the app in this process over each store, real HTTP with keep-alive, ${REQUESTS} requests per row in ${BLOCKS} alternating blocks (ms):`,
        '',
        '| store | concurrency | p50 | p99 |',
        '|---|---|---|---|',
        ...rows,
        '',
        `PostgreSQL / SQLite at p50: ${ratio(1)}× sequential, ${ratio(8)}× at 8 (PostgreSQL on this machine, over loopback TCP).`,
        '',
        `Takeover: two \`berth server\` processes on one PostgreSQL database, the leader killed with SIGKILL, time until the other prints that it leads (epoch 2), ${ROUNDS} rounds:`,
        '',
        '| --leader-ttl | median | min | max |',
        '|---|---|---|---|',
        ...Object.entries(takeovers).map(([ttl, each]) => `| ${ttl} | ${(median(each) / 1000).toFixed(1)} s | ${(Math.min(...each) / 1000).toFixed(1)} s | ${(Math.max(...each) / 1000).toFixed(1)} s |`),
        '',
        'The lease runs out TTL after the leader\'s last renewal (up to a renewal interval before the kill) and a follower looks every second: takeover ≈ TTL − (time since the last renewal) + up to 1 s. The no-op release on each store and the time from the kill to a resumed rollout\'s next step need this machine\'s engine: `node dist/bench/ha.js --rollout`, the next section.',
      ].join('\n'),
    );
    console.log('written to BENCHMARKS.md');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function reportRollout(f: RolloutFigures): void {
  const seconds = (values: number[]) => `${(median(values) / 1000).toFixed(1)} s (${(Math.min(...values) / 1000).toFixed(1)}–${(Math.max(...values) / 1000).toFixed(1)})`;
  const [lite, pg] = [median(f.noOp.sqlite), median(f.noOp.postgres)];
  writeSection(
    'ha-rollout',
    [
      '## Several servers on this machine\'s engine: the no-op release on each store, and a rollout resumed after the leader\'s kill (issue 21)',
      '',
      `${machine()}, ${loadNote()}. Command: \`npm run build && ${invocation('ha')}\`.`,
      '',
      `**No-op release**: \`berth release web --env dev --image <the build it runs>\`, whole CLI process, through a \`berth server\` on SQLite and through one on PostgreSQL (a private cluster on loopback TCP, \`src/testing/postgres.ts\`), two projects with the same berth.yaml (3 busybox \`httpd\` instances on the tiny root, nat network, health-checked), ${f.noOp.sqlite.length} rounds in alternating order after one warm-up each. The rollout's steps change no instance: ${f.steps}.`,
      '',
      '| store | median | min | max |',
      '|---|---|---|---|',
      ...(['sqlite', 'postgres'] as const).map((k) => `| ${k === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${Math.round(median(f.noOp[k]))} ms | ${Math.round(Math.min(...f.noOp[k]))} ms | ${Math.round(Math.max(...f.noOp[k]))} ms |`),
      '',
      `PostgreSQL / SQLite: **${(pg / lite).toFixed(2)}×** at the median.`,
      '',
      `**Takeover mid-rollout**: two \`berth server\` processes on the PostgreSQL store with the default lease (10 s, renewed every 3.3 s), a rolling update of the 3 instances (one at a time, 1 s drain) started through the API; once the store's journal has its first replacement done, the leader gets SIGKILL. Measured from the kill, ${f.takeovers.length} takeovers (the survivor leads the next; a new follower joins):`,
      '',
      '| until | median (min–max) |',
      '|---|---|',
      `| the survivor leads (prints \`leading (epoch N)\`) | ${seconds(f.takeovers.map((t) => t.lead))} |`,
      `| the resumed rollout starts its next step (its \`step\` event, server clock) | **${seconds(f.takeovers.map((t) => t.nextStep))}** |`,
      '',
      `Killed after step ${f.takeovers.map((t) => `${t.doneAtKill} of ${t.total}`).join(', ')}; every followed \`berth release\` (given both servers) exited 0. From leading to the next step the new leader loads the applied configuration, takes over the dead leader's service lease (an older epoch's, at once), gathers the rollout's snapshot and resumes from the journal. The goal is under 12 s with the default TTL; a shorter \`--leader-ttl\` shortens the first part (the \`ha\` section).`,
    ].join('\n'),
  );
  console.log('written to BENCHMARKS.md');
}

await main();
