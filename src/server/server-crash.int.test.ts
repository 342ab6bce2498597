/**
 * Integration: a real `berth server` on the real engine, with a flat network
 * and a real HAProxy front door, under load through it:
 * - the server killed -9 in the middle of a rollout, started again, resumes
 *   and completes it, with no failed request through the front door; the CLI
 *   that followed it reconnects (Last-Event-ID) and exits 0;
 * - a second rollout of the same service and environment is refused (409) naming the first;
 * - `berth rollout cancel` stops a rollout (an instance waiting in its health gate fails at once) and it rolls back (exit 7);
 * - the server's reconciler recreates a container removed by hand on its slot,
 *   with its IP and MAC, and brings back a front door killed with SIGKILL,
 *   each an audit-worthy action of actor "reconciler" visible on the event stream.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { InstanceStatus } from '../runtime/instances.js';
import { doorContainerName } from '../lb/door-container.js';
import { connectServer, type ServerClient } from '../remote/client.js';
import { BERTH_BIN, berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { type Fixture } from '../testing/fixture.js';
import { buildWebVersions, flatWebFixture, webPage } from '../testing/flat-web.js';
import { sendRequests, startLoad } from '../testing/load.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { stepsWithNeeds } from '../testing/steps.js';
import { until } from '../testing/until.js';

/** A build whose health page never exists: its first instance waits in the health gate until the rollout is cancelled. */
const neverHealthy = '#!/bin/sh\nmkdir -p /www\necho "hello C" > /www/index.html\n';
// The engine's own check (an exec) gets 3 s: on a loaded machine 1 s ran out three times in a row and berth status showed the instances unhealthy.
const HEALTH = { http: '/health.html', interval: '4s', timeout: '3s', unhealthy_after: 3 };
const SLOTS = ['web-dev-1', 'web-dev-2', 'web-dev-3'];
type Version = 'A' | 'B' | 'C';

const { step, needs } = stepsWithNeeds();
const FIRST = 'a first release through the server serves from three instances';
const KILLED = 'the server killed -9 mid-rollout resumes it when started again: no failed request, the follower exits 0';

describe('a berth server that dies, a rollout cancelled, and its reconciler', () => {
  let fixture: Fixture;
  let server: TestServer;
  let client: ServerClient;
  let images: Record<Version, string>;
  let url: string;

  before(async () => {
    fixture = await flatWebFixture(HEALTH);
    images = await buildWebVersions(fixture, { A: webPage('A'), B: webPage('B'), C: neverHealthy });
    server = await startTestServer(fixture.dir, fixture.env);
    client = connectServer({ url: new URL(server.url), token: server.adminToken });
    const applied = await berthOn(fixture, ['apply'], { env: server.envFor(fixture.env) });
    assert.equal(applied.code, 0, showOutcome(applied));
  });
  after(async () => {
    client?.close();
    await server?.stop();
    await fixture?.cleanup();
  });

  const berth = (args: string[]) => berthOn(fixture, args, { env: server.envFor(fixture.env) });
  const instances = async () => (await connectServer({ url: new URL(server.url), token: server.adminToken }).get<{ instances: InstanceStatus[] }>('/v1/instances')).instances;
  const versionOf = (digest: string) => (Object.entries(images) as [Version, string][]).find(([, id]) => id === digest)?.[0] ?? digest;
  const running = async () => (await instances()).map((i) => [i.slot, i.state, versionOf(i.digest)]);
  /** `berth release` through the server as a child process that follows the rollout; resolves with its outcome. */
  const follow = (args: string[]): { done: Promise<CliOutcome> } => {
    const started = Date.now();
    const child = spawn(process.execPath, [BERTH_BIN, ...args, '-p', fixture.dir], { env: server.envFor(fixture.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    return { done: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }))) };
  };
  /** The open rollout of web in dev once it has done `steps` steps. */
  const runningAt = (steps: number) =>
    until(`a rollout of web past step ${steps}`, async () => {
      const open = (await client.get<{ rollouts: { id: number; state: string; done: number }[] }>('/v1/rollouts')).rollouts;
      return open.find((r) => r.state === 'running' && r.done >= steps);
    });

  step(FIRST, async () => {
    const o = await berth(['release', 'web', '--env', 'dev', '--image', images.A, '--json']);
    assert.equal(o.code, 0, showOutcome(o));
    const result = JSON.parse(o.stdout) as { status: string; frontDoor: { address: string; port: number } };
    assert.equal(result.status, 'succeeded');
    url = `http://${result.frontDoor.address}:${result.frontDoor.port}/`;
    assert.deepEqual(await running(), SLOTS.map((s) => [s, 'running', 'A']));
    const answers = await sendRequests(url, 12);
    assert.equal(answers.failed, 0);
  });

  step(KILLED, async () => {
    needs(FIRST);
    const load = startLoad(url, { concurrency: 4 });
    try {
      const follower = follow(['release', 'web', '--env', 'dev', '--image', images.B]);
      // Past the front door and the first replacement: killed in the middle.
      await runningAt(2);
      await server.kill();
      await server.start();
      const o = await follower.done;
      assert.equal(o.code, 0, showOutcome(o));
      assert.match(o.stdout, /release 2 in dev: succeeded/);
      assert.match(server.output(), /resuming rollout #\d+/);
      const result = await load.stop();
      assert.equal(result.failed, 0, `${result.failed} failed: ${JSON.stringify(result.failures)}`);
      assert.ok(result.ok > 0);
    } finally {
      await load.stop();
    }
    assert.deepEqual(await running(), SLOTS.map((s) => [s, 'running', 'B']));
  });

  it('a second rollout of web in dev while one runs is refused naming it; berth rollout cancel stops the first (its instance waiting to be healthy fails at once), it rolls back and its follower exits 7', async () => {
    needs(KILLED);
    // C never becomes healthy: the rollout waits in its second step (a generous timeout) whatever the machine's speed.
    const follower = follow(['release', 'web', '--env', 'dev', '--image', images.C, '--timeout', '600s']);
    const open = await runningAt(1);
    const second = await berth(['scale', 'web=2', '--env', 'dev']);
    assert.equal(second.code, 4, showOutcome(second));
    assert.match(second.stderr, new RegExp(`a rollout of web in dev is in progress: rollout #${open.id}`));
    const cancel = await berth(['rollout', 'cancel', String(open.id)]);
    assert.equal(cancel.code, 0, showOutcome(cancel));
    const o = await follower.done;
    assert.equal(o.code, 7, showOutcome(o));
    assert.match(o.stderr, /cancelled by admin/);
    assert.deepEqual(await running(), SLOTS.map((s) => [s, 'running', 'B']));
  });

  it("the server's reconciler recreates a container removed by hand with its IP and MAC, and brings back a front door container removed by hand", async () => {
    needs(KILLED);
    const before = await instances();
    const gone = before[1]!;
    await fixture.engine.containers.remove(gone.id);
    const back = await until('the reconciler recreates the removed instance', async () => {
      const now = (await instances()).find((i) => i.slot === gone.slot);
      return now && now.state === 'running' && now.id !== gone.id ? now : undefined;
    });
    assert.deepEqual([back.ip, back.mac], [gone.ip, gone.mac]);

    const door = doorContainerName(fixture.name, 'dev-web');
    const was = await fixture.engine.containers.inspect(door);
    assert.ok(was?.running, 'the front door runs');
    await fixture.engine.containers.remove(door);
    await until('the reconciler brings the door back', async () => {
      const now = await fixture.engine.containers.inspect(door);
      return now?.running && now.id !== was.id ? true : undefined;
    });
    await until('the front door answers again', async () => ((await sendRequests(url, 3)).failed === 0 ? true : undefined));
    // The door answers once the reconciler's rollout has put it back, before that rollout's last steps end
    // (status then names it as a rollout in progress): converged is no drift once it has ended.
    await until('berth status shows no drift', async () => {
      const status = await berth(['status', '--json']);
      assert.equal(status.code, 0, showOutcome(status));
      const drift = (JSON.parse(status.stdout) as { drift: { kind: string }[] }).drift;
      assert.ok(drift.every((d) => d.kind === 'rollout-in-progress'), JSON.stringify(drift));
      return drift.length === 0 ? true : undefined;
    });
  });
});
