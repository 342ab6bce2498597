/**
 * The leader killed in the middle of a rolling update, with real engines and real processes: `berth
 * server` processes on one PostgreSQL database (a private cluster), this machine's engine, a service
 * of three instances behind its front door with load through the door. One setup (the cluster, the
 * builds, the servers, the first release) serves two takeovers in a row:
 *
 * - **three servers**: a release goes to the leader A through the API and a CLI follows it with all
 *   three servers' addresses; once the store's journal shows the first replacement done, A gets
 *   SIGKILL. Exactly one of the followers B and C takes the lease when it runs out (a short
 *   --leader-ttl keeps the test short) and resumes the rollout from its journaled step; the other
 *   stays a follower.
 * - **two servers**: the two survivors are the cluster now, one leading, one following. The next
 *   release goes the same way; the leader is killed after its first replacement and the only
 *   follower takes over with the next epoch and finishes it.
 *
 * Each time: the CLI reconnects to a survivor and exits 0; no request through the door fails; the
 * rollout ends once (one rollout row, `succeeded`, three instances of the new build and no other on
 * the engine); no step the dead leader completed starts again and each later step starts once; the
 * survivors' event streams carried the same steps as the store, in order; a write made with the
 * dead leader's lease and epoch is refused (fenced) and changes nothing; the audit chain verifies,
 * and `berth status` and `berth server status` through each survivor tell the truth (the new
 * release running and healthy, no drift, the new leader with the next epoch).
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
import { after, before, describe, it, type TestContext } from 'node:test';
import { connectServer } from '../remote/client.js';
import type { ProjectStatus } from '../reconcile/status.js';
import { RUN_LABELS } from '../runtime/labels.js';
import type { InstanceStatus } from '../runtime/instances.js';
import { closeStore, openStoreAt } from '../store/db.js';
import { LostLeadership, type Fence } from '../store/leases.js';
import { markDone, setRolloutStatus } from '../store/releases.js';
import { BERTH_BIN, berthOn, runBerth, showOutcome, type CliOutcome } from '../testing/cli.js';
import { type Fixture } from '../testing/fixture.js';
import { buildWebVersions, flatWebFixture, webPage } from '../testing/flat-web.js';
import { startLoad } from '../testing/load.js';
import { postgresForFile } from '../testing/postgres.js';
import { collectEvents } from '../testing/event-stream.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { until } from '../testing/until.js';
import type { ServerStatus } from './status.js';

// The engine's own probe (an exec) gets 3 s, as in server-crash.int: at a load of 50 a 1 s one timed out three times in a row, and berth status rightly said "unhealthy".
const HEALTH = { http: '/health.html', interval: '4s', timeout: '3s', unhealthy_after: 3 };
const SLOTS = ['web-dev-1', 'web-dev-2', 'web-dev-3'];
type Version = 'A' | 'B' | 'C';

const cluster = postgresForFile();

/** The `step` events of each rollout a server's event stream delivers, collected until `stop`. */
function stepsOnStream(url: string, token: string): { steps: Map<number, number[]>; stop: () => void } {
  const steps = new Map<number, number[]>();
  const stream = collectEvents(url, token, ({ event, data }) => {
    if (event !== 'rollout-progress') return;
    const progress = JSON.parse(data) as { rollout?: number; type?: string; index?: number };
    if (progress.type === 'step' && progress.rollout !== undefined) steps.set(progress.rollout, [...(steps.get(progress.rollout) ?? []), progress.index!]);
  });
  return { steps, stop: stream.stop };
}

/** What a takeover left: who leads now (and with which epoch), who follows, and the rollout it resumed. */
interface Takeover {
  next: TestServer;
  followers: TestServer[];
  rollout: number;
  epoch: number;
}

const epochsLed = (text: string) => [...text.matchAll(/leading \(epoch (\d+)\)/g)].map((m) => Number(m[1]));

describe('the leader killed mid-rollout under load, with real server processes and real engines: three servers, then the two survivors', () => {
  let fixture: Fixture;
  const servers: TestServer[] = [];
  let images: Record<Version, string>;
  let database: string;
  let store: string;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let url: string;
  /** The survivors of the three-server takeover, for the two-server one. */
  let survivors: Takeover | undefined;

  before(async () => {
    fixture = await flatWebFixture(HEALTH);
    images = await buildWebVersions(fixture, { A: webPage('A'), B: webPage('B'), C: webPage('C') });
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await fixture?.cleanup();
  });

  const versionOf = (digest: string) => (Object.entries(images) as [Version, string][]).find(([, id]) => id === digest)?.[0] ?? digest;
  const statusOn = async (server: TestServer) => {
    const out = await runBerth(['server', 'status', '--json'], { env: server.envFor(env, token) });
    assert.equal(out.code, 0, showOutcome(out));
    return JSON.parse(out.stdout) as ServerStatus;
  };

  /**
   * `berth release` of `version` sent to `leader` and followed with every live server's address,
   * under load through the door; `leader` killed once the journal shows the first replacement done.
   * Checks the takeover by one of `followers` with the next epoch, and everything the store, the
   * engine, the streams and the CLI show afterwards.
   *
   * Under a heavy load the new leader may miss its renewals and step down (docs/ha.md): the rollout
   * then changes hands once more, and the step under way at each step-down may start once more.
   * The test says so, and still requires what a step-down never changes: the CLI follows to the
   * end, no completed step starts again, no request fails, the rollout ends once.
   */
  async function killLeaderMidRollout(t: TestContext, leader: TestServer, followers: TestServer[], release: number, version: Version): Promise<Takeover> {
    const streams = new Map(followers.map((server) => [server, stepsOnStream(server.url, token)]));
    const load = startLoad(url, { concurrency: 4, maxMs: 900_000 });
    let takeover: Takeover;
    let stale: Fence;
    let doneAtKill: number;
    let total: number;
    let stepDowns: number;
    try {
      const all = { ...leader.envFor(env, token), BERTH_SERVER: [leader, ...followers].map((s) => s.url).join(',') };
      const started = Date.now();
      const child = spawn(process.execPath, [BERTH_BIN, 'release', 'web', '--env', 'dev', '--image', images[version], '-p', fixture.dir], { env: all, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const followed = new Promise<CliOutcome>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })));

      // Killed at a journaled point: once the store's journal has the first replacement done, before the next one.
      const open = await until('the rollout past its first replacement', async () => {
        const [r] = await cluster().query<{ id: number; done: number; plan: string }>(database, `SELECT id, done, plan FROM rollouts WHERE status = 'running' AND release = ${release}`);
        if (!r) return undefined;
        const steps = (JSON.parse(r.plan) as { steps: { op: string }[] }).steps;
        const firstReplace = steps.findIndex((step) => step.op === 'replace') + 1;
        return Number(r.done) >= firstReplace ? { id: Number(r.id), total: steps.length } : undefined;
      }, 300_000, 50);
      // The service lease the leader runs the rollout under: what a write of the dead leader would carry.
      const [lease] = await cluster().query<{ token: number; epoch: number }>(database, `SELECT token, epoch FROM leases WHERE service = 'web' AND environment = 'dev'`);
      const printedBefore = new Map(followers.map((s) => [s, s.output().length]));
      await leader.kill();
      const [atKill] = await cluster().query<{ done: number }>(database, `SELECT done FROM rollouts WHERE id = ${open.id}`);
      doneAtKill = Number(atKill!.done);
      total = open.total;
      assert.ok(doneAtKill < total, `killed mid-rollout: ${doneAtKill} of ${total} steps done`);
      const deadEpoch = Number(lease!.epoch);
      assert.ok(deadEpoch > 0, 'the rollout ran under the leader\'s epoch');
      stale = { service: 'web', environment: 'dev', token: Number(lease!.token), leader: { epoch: deadEpoch, acting: () => true } };
      const epoch = deadEpoch + 1;

      const o = await followed;
      const printed = () => followers.map((s) => `--- ${s.url} printed:\n${s.output()}`).join('\n');
      assert.equal(o.code, 0, `${showOutcome(o)}\n${printed()}`);
      assert.match(o.stdout, new RegExp(`release ${release} in dev: succeeded`));
      // Exactly one follower took the lease with the next epoch and resumed the rollout from the journaled step.
      const since = (s: TestServer) => s.output().slice(printedBefore.get(s));
      const first = followers.filter((s) => epochsLed(since(s)).includes(epoch));
      assert.equal(first.length, 1, `one survivor leads with epoch ${epoch}:\n${printed()}`);
      assert.match(since(first[0]!), new RegExp(`leading \\(epoch ${epoch}\\)[\\s\\S]*?resuming rollout #${open.id} \\(release of web in dev\\), interrupted at step ${doneAtKill}`));
      stepDowns = followers.map((s) => since(s).match(/stepped down/g)?.length ?? 0).reduce((a, b) => a + b, 0);
      const last = Math.max(...followers.flatMap((s) => epochsLed(since(s))));
      const next = followers.find((s) => epochsLed(since(s)).includes(last))!;
      if (stepDowns === 0) {
        // No step-down: the one that took over finished it, and every other follower never led nor resumed anything.
        assert.deepEqual([next, last], [first[0], epoch]);
        for (const other of followers.filter((s) => s !== next)) assert.doesNotMatch(since(other), /leading \(epoch|resuming rollout/);
      } else {
        // A step-down: every later term is the next epoch, each resumed the same rollout (never a completed step).
        assert.equal(last, epoch + stepDowns, `one new term per step-down:\n${printed()}`);
        t.diagnostic(`the load made a new leader step down ${stepDowns} time(s): epochs ${epoch} to ${last}`);
      }
      t.diagnostic(`${followers.length + 1} servers: killed at step ${doneAtKill} of ${total}; ${first[0]!.url} took over with epoch ${epoch}${next !== first[0] || last !== epoch ? `, ${next.url} leads with epoch ${last}` : ''}`);
      const result = await load.stop();
      t.diagnostic(`${result.requests} requests through the door, ${result.failed} failed`);
      assert.equal(result.failed, 0, `${result.failed} of ${result.requests} failed: ${JSON.stringify(result.failures)}`);
      assert.ok(result.ok > 0);
      takeover = { next, followers: followers.filter((s) => s !== next), rollout: open.id, epoch: last };
    } finally {
      for (const stream of streams.values()) stream.stop();
      await load.stop();
    }
    const { next, rollout, epoch } = takeover;

    // The journal: one rollout of this release, finished by the new leader. No step the dead leader completed
    // started again; the one it was in when killed at most once more (by the new leader); every later one once
    // (or, for each step-down, once more at most: the step under way then starts again under the next term).
    const rows = await cluster().query<{ id: number; status: string; done: number }>(database, `SELECT id, status, done FROM rollouts WHERE release = ${release}`);
    assert.deepEqual(rows.map((r) => [Number(r.id), r.status, Number(r.done)]), [[rollout, 'succeeded', total]]);
    const progress = await cluster().query<{ data: string }>(database, `SELECT data FROM events WHERE rollout = ${rollout} AND type = 'rollout-progress' ORDER BY seq`);
    const starts = progress.map((p) => JSON.parse(p.data) as { type: string; index?: number }).filter((e) => e.type === 'step').map((e) => e.index!);
    for (let index = 1; index <= total; index++) {
      const times = starts.filter((i) => i === index).length;
      if (index <= doneAtKill) assert.equal(times, 1, `step ${index}, done before the kill, started once (started: ${starts.join(',')})`);
      else if (index === doneAtKill + 1) assert.ok(times >= 1 && times <= 2 + stepDowns, `step ${index}, under way at the kill, started once or once more by the new leader (started: ${starts.join(',')})`);
      else assert.ok(times >= 1 && times <= 1 + stepDowns, `step ${index} started once${stepDowns ? ` (or once more per step-down: ${stepDowns})` : ''} (started: ${starts.join(',')})`);
    }
    // Every follower's stream carried the dead leader's steps, then the new leader's, in order: every step the store has.
    for (const [server, stream] of streams) assert.deepEqual(stream.steps.get(rollout), starts, `the stream of ${server === next ? 'the new leader' : 'a follower'}: the same steps as the store, in order`);

    // Fenced: the dead leader's write, with its lease and its epoch (as if it woke up believing it still leads), is refused and changes nothing.
    const db = await openStoreAt(store, { passwordFile: cluster().passwordFile });
    try {
      const refused = (error: unknown) => error instanceof LostLeadership && error.message.includes(`leader epoch ${stale.leader!.epoch},`) && error.message.includes(`leads with epoch ${epoch} now`);
      await assert.rejects(setRolloutStatus(db, rollout, 'failed', stale, 'written by the dead leader'), refused);
      await assert.rejects(markDone(db, rollout, doneAtKill, stale), refused);
    } finally {
      await closeStore(db);
    }
    const [kept] = await cluster().query<{ status: string; done: number; message: string }>(database, `SELECT status, done, message FROM rollouts WHERE id = ${rollout}`);
    assert.deepEqual([kept!.status, Number(kept!.done)], ['succeeded', total]);
    assert.doesNotMatch(kept!.message, /dead leader/);

    // The engine: exactly the three slots, each once, running the new build; nothing of the old one left.
    const containers = await fixture.engine.containers.summaries([`${RUN_LABELS.project}=${fixture.name}`, `${RUN_LABELS.service}=web`, `${RUN_LABELS.environment}=dev`, RUN_LABELS.instance]);
    assert.deepEqual(
      containers.map((c) => [c.labels[RUN_LABELS.instance], c.state, versionOf(c.labels[RUN_LABELS.digest] ?? '')]).sort(),
      SLOTS.map((s) => [s, 'running', version]),
      'one container per slot, on the new build',
    );
    return takeover;
  }

  /** Through each server: the API's instances, `berth status`, the audit chain and `berth server status` tell the same truth. */
  async function checkTruthThrough(live: TestServer[], leader: TestServer, release: number, version: Version, epoch: number) {
    const seen = new Map<TestServer, ServerStatus['leader']>();
    for (const server of live) {
      const client = connectServer({ url: new URL(server.url), token });
      const instances = (await client.get<{ instances: InstanceStatus[] }>('/v1/instances')).instances;
      client.close();
      assert.deepEqual(instances.map((i) => [i.slot, i.state, versionOf(i.digest)]), SLOTS.map((s) => [s, 'running', version]), `instances through ${server.url}`);

      // The release, its scale and what runs, at once; healthy and no drift once the engine's own probes of the newest
      // instances have passed (under load they may lag, and status then says which slot fails its check, the only drift allowed).
      await until(`berth status through ${server.url}: 3 of 3 healthy, no drift`, async () => {
        const status = await runBerth(['status', '--json'], { env: server.envFor(env, token) });
        assert.equal(status.code, 0, showOutcome(status));
        const project = JSON.parse(status.stdout) as ProjectStatus;
        assert.deepEqual(project.environments.map((e) => [e.service, e.environment, e.release, e.replicas, e.running]), [['web', 'dev', release, 3, 3]], `berth status through ${server.url}`);
        assert.deepEqual(project.drift.filter((d) => d.kind !== 'unhealthy'), [], `berth status through ${server.url}`);
        return project.environments[0]!.healthy === 3 && project.drift.length === 0 ? true : undefined;
      }, 120_000, 1000);

      const verify = await runBerth(['audit', 'verify'], { env: server.envFor(env, token) });
      assert.equal(verify.code, 0, showOutcome(verify));
      assert.match(verify.stdout, /audit log intact: \d+ entries/);

      const after = await statusOn(server);
      assert.equal(after.leader?.expired, false);
      assert.deepEqual(after.servers.filter((s) => s.leads).map((s) => s.address), [leader.url], `on ${server.url}: only the new leader leads`);
      seen.set(server, after.leader);
    }
    const first = seen.get(leader)!;
    assert.deepEqual([first.address, first.epoch], [leader.url, epoch]);
    for (const [server, view] of seen) assert.deepEqual([view?.address, view?.epoch, view?.id, view?.since], [first.address, first.epoch, first.id, first.since], `the same leader through ${server.url}`);
  }

  it('three servers: one of two followers takes over, resumes the rollout from its step and finishes it, the other stays a follower; 0 failed requests, each step once, the stale leader fenced, status true through both', async (t) => {
    database = `berth_takeover_${randomBytes(3).toString('hex')}`;
    store = await cluster().createDatabase(database);
    env = { ...fixture.env, PGPASSWORD: '' };
    const args = ['--store', store, '--store-password-file', cluster().passwordFile, '--reconcile-interval', '0s', '--leader-ttl', '3s'];
    const a = await startTestServer(join(fixture.dir, '.berth', 'a'), env, args);
    servers.push(a);
    token = a.adminToken;
    assert.match(a.output(), /leading \(epoch 1\)/);
    const applied = await berthOn(fixture, ['apply'], { env: a.envFor(env) });
    assert.equal(applied.code, 0, showOutcome(applied));
    const first = await berthOn(fixture, ['release', 'web', '--env', 'dev', '--image', images.A, '--json'], { env: a.envFor(env) });
    assert.equal(first.code, 0, showOutcome(first));
    const door = (JSON.parse(first.stdout) as { frontDoor: { address: string; port: number } }).frontDoor;
    url = `http://${door.address}:${door.port}/`;

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
    for (const server of [b, c]) {
      const seen = await statusOn(server);
      assert.deepEqual([seen.leader?.address, seen.leader?.epoch], [a.url, 1], `status on ${server.url}`);
    }

    const takeover = await killLeaderMidRollout(t, a, [b, c], 2, 'B');
    await checkTruthThrough([takeover.next, ...takeover.followers], takeover.next, 2, 'B', takeover.epoch);
    survivors = takeover;
  });

  it('two servers: the only follower takes over from the leader killed mid-rollout, resumes and finishes it; 0 failed requests, each step once, the stale leader fenced, status true through it', async (t) => {
    assert.ok(survivors, 'the two servers are the survivors of the three-server case, which did not get that far');
    const [follower] = survivors.followers;
    assert.equal(survivors.followers.length, 1);
    const takeover = await killLeaderMidRollout(t, survivors.next, [follower!], 3, 'C');
    assert.equal(takeover.next, follower);
    assert.ok(takeover.epoch > survivors.epoch);
    await checkTruthThrough([follower!], follower!, 3, 'C', takeover.epoch);
  });
});
