/**
 * The leader killed in the middle of a rolling update, with real engines and real processes: three
 * `berth server` processes on one PostgreSQL database (a private cluster), this machine's engine, a
 * service of three instances behind its front door with load through the door. A release goes to
 * the leader A through the API and a CLI follows it with all three servers' addresses; once the
 * store's journal shows the first replacement done, A gets SIGKILL. Exactly one of the followers B
 * and C takes the lease when it runs out (a short --leader-ttl keeps the test short), resumes the
 * rollout from its journaled step and finishes it; the other stays a follower. No request through
 * the door fails, no step the dead leader completed runs again, the CLI reconnects to a survivor and
 * exits 0, both survivors' event streams carried the leader's steps and then the new leader's, the
 * audit chain verifies through both, and `berth server status` on both names the new leader with
 * the next epoch. (Two servers, the leader killed and replaced, are servers.pg.int's case.)
 *
 * The front door is a container on the engine, found by its name: the next leader drives the door
 * the dead one started with nothing shared but the store. The spec-MAC key is copied from the first
 * server if it made one, as docs/ha.md tells operators.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectServer } from '../remote/client.js';
import type { InstanceStatus } from '../runtime/instances.js';
import { BERTH_BIN, berthOn, runBerth, showOutcome, type CliOutcome } from '../testing/cli.js';
import { type Fixture } from '../testing/fixture.js';
import { buildWebVersions, flatWebFixture, webPage } from '../testing/flat-web.js';
import { startLoad } from '../testing/load.js';
import { postgresForFile } from '../testing/postgres.js';
import { collectEvents } from '../testing/event-stream.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { until } from '../testing/until.js';
import type { ServerStatus } from './status.js';

const HEALTH = { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 };
const SLOTS = ['web-dev-1', 'web-dev-2', 'web-dev-3'];
type Version = 'A' | 'B';

const cluster = postgresForFile();

/** The `step` events of rollout `id` a server's event stream delivers, collected until `stop`. */
function stepsOnStream(url: string, token: string): { steps: Map<number, number[]>; stop: () => void } {
  const steps = new Map<number, number[]>();
  const stream = collectEvents(url, token, ({ event, data }) => {
    if (event !== 'rollout-progress') return;
    const progress = JSON.parse(data) as { rollout?: number; type?: string; index?: number };
    if (progress.type === 'step' && progress.rollout !== undefined) steps.set(progress.rollout, [...(steps.get(progress.rollout) ?? []), progress.index!]);
  });
  return { steps, stop: stream.stop };
}

describe('the leader killed mid-rollout under load, with three server processes and real engines', () => {
  let fixture: Fixture;
  const servers: TestServer[] = [];
  let images: Record<Version, string>;

  before(async () => {
    fixture = await flatWebFixture(HEALTH);
    images = await buildWebVersions(fixture, { A: webPage('A'), B: webPage('B') });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await fixture?.cleanup();
  });

  it('one of two followers takes over, resumes the rollout from its step and finishes it, the other stays a follower: 0 failed requests, no completed step again, the CLI follows it to the end, the audit chain verifies', async (t) => {
    const database = `berth_takeover_${randomBytes(3).toString('hex')}`;
    const store = await cluster().createDatabase(database);
    const env = { ...fixture.env, PGPASSWORD: '' };
    const args = ['--store', store, '--store-password-file', cluster().passwordFile, '--reconcile-interval', '0s', '--leader-ttl', '3s'];
    const a = await startTestServer(join(fixture.dir, '.berth', 'a'), env, args);
    servers.push(a);
    assert.match(a.output(), /leading \(epoch 1\)/);
    const applied = await berthOn(fixture, ['apply'], { env: a.envFor(env) });
    assert.equal(applied.code, 0, showOutcome(applied));
    const first = await berthOn(fixture, ['release', 'web', '--env', 'dev', '--image', images.A, '--json'], { env: a.envFor(env) });
    assert.equal(first.code, 0, showOutcome(first));
    const door = (JSON.parse(first.stdout) as { frontDoor: { address: string; port: number } }).frontDoor;
    const url = `http://${door.address}:${door.port}/`;

    // The followers: the spec-MAC key copied if the first made one (docs/ha.md).
    const follower = async (name: string) => {
      const state = join(fixture.dir, '.berth', name, 'server-state');
      mkdirSync(state, { recursive: true, mode: 0o700 });
      if (existsSync(join(a.stateDir, 'spec-mac.key'))) copyFileSync(join(a.stateDir, 'spec-mac.key'), join(state, 'spec-mac.key'));
      const server = await startTestServer(join(fixture.dir, '.berth', name), env, args);
      servers.push(server);
      return server;
    };
    const b = await follower('b');
    const c = await follower('c');
    const statusOn = async (server: TestServer) => {
      const out = await runBerth(['server', 'status', '--json'], { env: server.envFor(env, a.adminToken) });
      assert.equal(out.code, 0, showOutcome(out));
      return JSON.parse(out.stdout) as ServerStatus;
    };
    for (const server of [b, c]) {
      const before = await statusOn(server);
      assert.deepEqual([before.leader?.address, before.leader?.epoch], [a.url, 1], `status on ${server.url}`);
    }

    // Both followers' own event streams, open while the leader runs the rollout.
    const streams = new Map([b, c].map((server) => [server, stepsOnStream(server.url, a.adminToken)]));
    const load = startLoad(url, { concurrency: 4, maxMs: 900_000 });
    let next: TestServer;
    let other: TestServer;
    try {
      // `berth release` to the leader, following the rollout; given all three servers, it goes on through one that answers.
      const all = { ...a.envFor(env), BERTH_SERVER: [a, b, c].map((s) => s.url).join(',') };
      const started = Date.now();
      const child = spawn(process.execPath, [BERTH_BIN, 'release', 'web', '--env', 'dev', '--image', images.B, '-p', fixture.dir], { env: all, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      const followed = new Promise<CliOutcome>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })));

      // Killed at a journaled point: once the store's journal has the first replacement done, before the next one.
      const open = await until('the rollout past its first replacement', async () => {
        const [r] = await cluster().query<{ id: number; done: number; plan: string }>(database, `SELECT id, done, plan FROM rollouts WHERE status = 'running' AND release = 2`);
        if (!r) return undefined;
        const steps = (JSON.parse(r.plan) as { steps: { op: string }[] }).steps;
        const firstReplace = steps.findIndex((step) => step.op === 'replace') + 1;
        return Number(r.done) >= firstReplace ? { id: Number(r.id), total: steps.length } : undefined;
      }, 300_000, 50);
      await a.kill();
      const [atKill] = await cluster().query<{ done: number }>(database, `SELECT done FROM rollouts WHERE id = ${open.id}`);
      const doneAtKill = Number(atKill!.done);
      const total = open.total;
      assert.ok(doneAtKill < total, `killed mid-rollout: ${doneAtKill} of ${total} steps done`);

      const o = await followed;
      const printed = () => [b, c].map((s) => `--- ${s.url} printed:\n${s.output()}`).join('\n');
      assert.equal(o.code, 0, `${showOutcome(o)}\n${printed()}`);
      assert.match(o.stdout, /release 2 in dev: succeeded/);
      // Exactly one survivor took the lease (with the next epoch) and resumed the rollout; the other never led.
      const leaders = [b, c].filter((s) => /leading \(epoch/.test(s.output()));
      assert.equal(leaders.length, 1, `one survivor leads:\n${printed()}`);
      [next, other] = leaders[0] === b ? [b, c] : [c, b];
      assert.match(next.output(), /leading \(epoch 2\)/);
      assert.match(next.output(), new RegExp(`resuming rollout #${open.id} \\(release of web in dev\\), interrupted at step ${doneAtKill}`));
      assert.doesNotMatch(other.output(), /resuming rollout/);
      t.diagnostic(`killed at step ${doneAtKill} of ${total}; ${next === b ? 'B' : 'C'} took over`);
      const result = await load.stop();
      assert.equal(result.failed, 0, `${result.failed} of ${result.requests} failed: ${JSON.stringify(result.failures)}`);
      assert.ok(result.ok > 0);

      // The journal: finished by the new leader; every step started, none the dead leader had completed started again.
      const [end] = await cluster().query<{ status: string; done: number }>(database, `SELECT status, done FROM rollouts WHERE id = ${open.id}`);
      assert.deepEqual([end!.status, Number(end!.done)], ['succeeded', total]);
      const progress = await cluster().query<{ data: string }>(database, `SELECT data FROM events WHERE rollout = ${open.id} AND type = 'rollout-progress' ORDER BY seq`);
      const starts = progress.map((p) => JSON.parse(p.data) as { type: string; index?: number }).filter((e) => e.type === 'step').map((e) => e.index!);
      for (let index = 1; index <= total; index++) {
        const times = starts.filter((i) => i === index).length;
        if (index <= doneAtKill) assert.equal(times, 1, `step ${index}, done before the kill, started once (started: ${starts.join(',')})`);
        else assert.ok(times >= 1, `step ${index} ran (started: ${starts.join(',')})`);
      }
      // Both survivors' streams carried the dead leader's steps, then the new leader's, in order: every step the store has.
      for (const [server, stream] of streams) assert.deepEqual(stream.steps.get(open.id), starts, `the stream of ${server === next ? 'the new leader' : 'the follower'}: the same steps as the store, in order`);
    } finally {
      for (const stream of streams.values()) stream.stop();
      await load.stop();
    }

    const versionOf = (digest: string) => (Object.entries(images) as [Version, string][]).find(([, id]) => id === digest)?.[0] ?? digest;
    const viaOther = connectServer({ url: new URL(other.url), token: a.adminToken });
    const instances = (await viaOther.get<{ instances: InstanceStatus[] }>('/v1/instances')).instances;
    assert.deepEqual(instances.map((i) => [i.slot, i.state, versionOf(i.digest)]), SLOTS.map((s) => [s, 'running', 'B']));
    viaOther.close();

    // Through each survivor: the audit chain verifies, and the status names the new leader, the same one, with the next epoch.
    const leaderOn = new Map<TestServer, ServerStatus['leader']>();
    for (const server of [next, other]) {
      const verify = await runBerth(['audit', 'verify'], { env: server.envFor(env, a.adminToken) });
      assert.equal(verify.code, 0, showOutcome(verify));
      assert.match(verify.stdout, /audit log intact: \d+ entries/);
      const after = await statusOn(server);
      assert.equal(after.leader?.expired, false);
      assert.deepEqual(after.servers.filter((s) => s.leads).map((s) => s.address), [next.url], `on ${server.url}: only the new leader leads`);
      leaderOn.set(server, after.leader);
    }
    const [onNext, onOther] = [leaderOn.get(next)!, leaderOn.get(other)!];
    assert.deepEqual([onNext.address, onNext.epoch, onNext.id, onNext.since], [next.url, 2, onOther.id, onOther.since]);
    assert.deepEqual([onOther.address, onOther.epoch], [next.url, 2]);
  });
});
