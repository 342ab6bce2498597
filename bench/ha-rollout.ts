/**
 * Several servers on this machine's engine (issue 21), `node dist/bench/ha.js --rollout`:
 *  1. A no-op release (`berth release web --env dev --image <the build it runs>`, whole CLI process)
 *     through a `berth server` on SQLite and through one on PostgreSQL (a private cluster), two
 *     projects with the same berth.yaml (3 busybox httpd instances, nat network, health-checked), in
 *     alternating order each round.
 *  2. Takeover mid-rollout: two servers on the PostgreSQL store with the default lease; a rolling
 *     update of the 3 instances; once the store's journal has its first replacement done, the leader
 *     gets SIGKILL. Measured from the kill: until the other server prints that it leads, and until the
 *     resumed rollout starts its next step (the `step` event it records; the event's time is the
 *     server's clock, the same machine's). The survivor leads the next round; a new follower joins.
 * The servers share nothing but the store: the front door is a container any leader finds by name.
 */
import { releaseSteps } from './release-steps.js';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from '../src/config/project.js';
import { buildProject } from '../src/imaging/builder.js';
import { closeStore, openStore } from '../src/store/db.js';
import { runBerth, type CliOutcome } from '../src/testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../src/testing/fixture.js';
import type { PostgresCluster } from '../src/testing/postgres.js';
import { startTestServer, type TestServer } from '../src/testing/server.js';
import { until } from '../src/testing/until.js';
import { BERTH, median } from './lib.js';

const REPLICAS = 3;
const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\n`;

export interface RolloutFigures {
  noOp: { sqlite: number[]; postgres: number[] };
  /** Per takeover: ms from the kill until the survivor leads, and until the resumed rollout's next step starts. */
  takeovers: { lead: number; nextStep: number; doneAtKill: number; total: number }[];
  steps: string;
}

async function fixture(): Promise<Fixture> {
  return makeFixture(
    { web: { settings: { root: { tarball: await tinyRootTarball() }, command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('A') } },
    {
      services: { web: { image: 'web', ports: [8080], health: { http: '/', interval: '2s', timeout: '1s', unhealthy_after: 5, start_period: '10s' }, stop_grace: '1s', rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' } } },
      environments: { dev: { network: 'nat', services: { web: { replicas: REPLICAS } } } },
      pipeline: ['dev'],
    },
  );
}

async function build(f: Fixture, versions: string[]): Promise<string[]> {
  const db = await openStore(loadProject(f.dir, f.env).stateDir);
  try {
    const ids: string[] = [];
    for (const v of versions) {
      f.write('images/web/static.sh', page(v), 0o755);
      const summary = await buildProject(loadProject(f.dir, f.env), f.engine, db, { env: f.env, only: ['web'] });
      if (summary.failed.length > 0) throw new Error(`build of ${v} failed`);
      ids.push([...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId);
    }
    return ids;
  } finally {
    await closeStore(db);
  }
}

function checked(o: CliOutcome, what: string): CliOutcome {
  if (o.code !== 0) throw new Error(`${what} exited ${o.code ?? o.signal}:\n${o.stdout}\n${o.stderr}`);
  return o;
}

/** A no-op release: refused as a measurement if it changed an instance. */
async function noOp(f: Fixture, env: NodeJS.ProcessEnv, image: string): Promise<{ ms: number; steps: string[] }> {
  const o = checked(await runBerth(['release', 'web', '--env', 'dev', '--image', image, '-p', f.dir], { env }), 'a no-op release');
  const { steps, changed } = releaseSteps(o.stdout);
  if (changed.length > 0) throw new Error(`the release changed instances, so it was no no-op: ${changed.join('; ')}`);
  return { ms: o.ms, steps };
}

export async function rolloutBenchmark(cluster: PostgresCluster, rounds: number, takeovers: number): Promise<RolloutFigures> {
  const [lite, pg] = [await fixture(), await fixture()];
  const servers: TestServer[] = [];
  try {
    const [liteA] = await build(lite, ['A']);
    const [pgA, pgB] = await build(pg, ['A', 'B']);
    const database = `bench_rollout_${process.pid}`;
    const store = await cluster.createDatabase(database);
    const pgEnv = { ...pg.env, PGPASSWORD: '' };
    const pgArgs = ['--store', store, '--store-password-file', cluster.passwordFile, '--reconcile-interval', '0s'];
    const liteServer = await startTestServer(join(lite.dir, '.berth', 'server'), lite.env, ['--reconcile-interval', '0s']);
    servers.push(liteServer);
    let leader = await startTestServer(join(pg.dir, '.berth', 's0'), pgEnv, pgArgs);
    servers.push(leader);
    const token = leader.adminToken;
    const envs = { sqlite: liteServer.envFor(lite.env), postgres: leader.envFor(pgEnv) };
    for (const [f, env, image] of [[lite, envs.sqlite, liteA!], [pg, envs.postgres, pgA!]] as const) {
      checked(await runBerth(['apply', '-p', f.dir], { env }), 'berth apply');
      checked(await runBerth(['release', 'web', '--env', 'dev', '--image', image, '-p', f.dir], { env }), 'the first release');
    }

    // 1. The no-op release on each store; one warm-up each.
    const noOps = { sqlite: [] as number[], postgres: [] as number[] };
    const runs = { sqlite: () => noOp(lite, envs.sqlite, liteA!), postgres: () => noOp(pg, envs.postgres, pgA!) };
    let steps: string[] = [];
    for (const kind of ['sqlite', 'postgres'] as const) steps = (await runs[kind]()).steps;
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? (['postgres', 'sqlite'] as const) : (['sqlite', 'postgres'] as const);
      for (const kind of order) noOps[kind].push((await runs[kind]()).ms);
      console.log(`no-op round ${round + 1}: SQLite ${noOps.sqlite.at(-1)} ms, PostgreSQL ${noOps.postgres.at(-1)} ms`);
    }
    await liteServer.stop();

    // 2. Takeovers: the leader killed past the first replacement of a rolling update.
    const follower = async (n: number) => {
      const state = join(pg.dir, '.berth', `s${n}`, 'server-state');
      mkdirSync(state, { recursive: true, mode: 0o700 });
      if (existsSync(join(leader.stateDir, 'spec-mac.key'))) copyFileSync(join(leader.stateDir, 'spec-mac.key'), join(state, 'spec-mac.key'));
      const s = await startTestServer(join(pg.dir, '.berth', `s${n}`), pgEnv, pgArgs);
      servers.push(s);
      return s;
    };
    const figures: RolloutFigures['takeovers'] = [];
    let next = await follower(1);
    for (let round = 0; round < takeovers; round++) {
      const image = round % 2 === 0 ? pgB! : pgA!;
      const release = spawn(process.execPath, [BERTH, 'release', 'web', '--env', 'dev', '--image', image, '-p', pg.dir], { env: { ...leader.envFor(pgEnv, token), BERTH_SERVER: `${leader.url},${next.url}` }, stdio: ['ignore', 'pipe', 'pipe'] });
      let printed = '';
      release.stdout.setEncoding('utf8').on('data', (t: string) => (printed += t));
      release.stderr.setEncoding('utf8').on('data', (t: string) => (printed += t));
      const released = new Promise<number | null>((resolve) => release.once('close', resolve));
      const open = await until('the rollout past its first replacement', async () => {
        const [r] = await cluster.query<{ id: number; done: number; plan: string }>(database, `SELECT id, done, plan FROM rollouts WHERE status = 'running' ORDER BY id DESC LIMIT 1`);
        if (!r) return undefined;
        const planned = (JSON.parse(r.plan) as { steps: { op: string }[] }).steps;
        return Number(r.done) >= planned.findIndex((s) => s.op === 'replace') + 1 ? { id: Number(r.id), total: planned.length } : undefined;
      }, 600_000, 50);
      const [seen] = await cluster.query<{ seq: string }>(database, `SELECT coalesce(max(seq), 0) AS seq FROM events`);
      const killed = Date.now();
      await leader.kill();
      const [atKill] = await cluster.query<{ done: number }>(database, `SELECT done FROM rollouts WHERE id = ${open.id}`);
      const lead = await until('the survivor to lead', async () => (/leading \(epoch \d+\)/.test(next.output().slice(next.output().lastIndexOf('<start>'))) ? Date.now() : undefined), 120_000, 20);
      const step = await until('the resumed rollout\'s next step', async () => {
        const rows = await cluster.query<{ at: string; data: string }>(database, `SELECT at, data FROM events WHERE rollout = ${open.id} AND type = 'rollout-progress' AND seq > ${seen!.seq} ORDER BY seq`);
        return rows.find((r) => (JSON.parse(r.data) as { type: string }).type === 'step')?.at;
      }, 120_000, 50);
      const code = await released;
      if (code !== 0) throw new Error(`the release followed through the takeover exited ${code}:\n${printed}`);
      figures.push({ lead: lead - killed, nextStep: Number(step) - killed, doneAtKill: Number(atKill!.done), total: open.total });
      console.log(`takeover ${round + 1}: leads after ${lead - killed} ms, next step after ${Number(step) - killed} ms (killed at step ${atKill!.done} of ${open.total})`);
      leader = next;
      next = await follower(round + 2);
    }
    return { noOp: noOps, takeovers: figures, steps: steps.map((s) => s.replace(/^\[\d+\/\d+\]\s*/, '')).join('; ') };
  } finally {
    for (const s of servers) await s.stop();
    await lite.cleanup();
    await pg.cleanup();
  }
}

export { median };
