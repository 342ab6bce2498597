/**
 * Integration: the reconciler on the real engine and a real HAProxy front door.
 * One service (busybox httpd) released to dev with 2 instances on a flat network.
 * The steps build on each other (each says what it needs):
 * - a container removed by hand shows as drift in statusOf, a pass recreates it
 *   on its slot with the same IP and MAC (the other instance untouched), as a
 *   rollout of kind 'reconcile' by actor "reconciler", and statusOf reports nothing;
 * - a container stopped by hand (exited, its engine does not restart it) is recreated;
 * - a front door killed with SIGKILL is back after a pass, on its port, with its backends;
 * - the loop: a container removed by hand is recreated without anyone asking (engine events), and a
 *   front door killed again is back (the loop looks at its process).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances, type InstanceStatus } from '../runtime/instances.js';
import { removeInstances } from '../release/operate.js';
import { doorContainerName } from '../lb/door-container.js';
import { recordedDoorStatus } from '../rollout/front-door.js';
import type { FrontDoorStatus } from '../lb/model.js';
import { removeNetwork } from '../network/docker-network.js';
import { releaseService } from '../release/operations.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { frontDoorPort, rolloutsOf } from '../store/releases.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { stepsWithNeeds } from '../testing/steps.js';
import { startReconciler, type ReconcilerEvent } from './loop.js';
import { reconcileOnce, type ReconcileEvent } from './reconcile.js';
import { statusOf } from './status.js';
import { until as untilWithin } from '../testing/until.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

const run = promisify(execFile);
/** Per instance, until healthy: generous, CI is slow and busy. */
const TIMEOUT_MS = 60_000;
/** How long a poll may take before the test says what it saw. */
const DEADLINE_MS = 90_000;

describe('the reconciler, on the real engine', () => {
  let fixture: Fixture;
  let db: Store;
  let bridge: string;
  const svc = `rc${randomBytes(3).toString('hex')}`;
  const { step, needs } = stepsWithNeeds();
  const RELEASED = 'released: statusOf shows 2 of 2 running and no drift; a pass does nothing';
  const RECREATED = 'a container removed by hand is drift in statusOf; a pass recreates it on its slot with the same IP and MAC, and then there is no drift';

  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const instances = (): Promise<InstanceStatus[]> => listInstances(context(), { environment: 'dev', service: svc });
  const door = async (): Promise<FrontDoorStatus> => {
    const status = await recordedDoorStatus(context(), svc, 'dev');
    assert.ok(status, 'no front door recorded');
    return status;
  };
  const identity = (list: InstanceStatus[]) => list.map((i) => [i.slot, i.state, i.ip, i.mac]);

  const until = <T>(what: string, probe: () => Promise<T | undefined>) => untilWithin(what, probe, DEADLINE_MS, 100);

  function answer(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(`${response.statusCode} ${body.trim()}`));
      });
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', reject);
    });
  }

  before(async () => {
    const prefix = randomTestPrefix();
    bridge = `rc${randomBytes(3).toString('hex')}`;
    // health: the engine's own check (an exec) gets 3 s: on a loaded machine 1 s ran out three times in a row, and the
    // first step's status showed both instances unhealthy (the check, not the front door).
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: '#!/bin/sh\nmkdir -p /www\necho "hello" > /www/index.html\n' },
      },
      {
        networks: {
          lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.20`, create_bridge: true, quarantine: '0s' },
        },
        services: {
          [svc]: { image: 'web', replicas: 2, ports: [8080], health: { http: '/', interval: '4s', timeout: '3s', unhealthy_after: 3 }, stop_grace: '1s', rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' } },
        },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1' } },
        pipeline: ['dev'],
      },
    );
    db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
    const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['web'] });
    assert.deepEqual(summary.failed, []);
  });

  after(async () => {
    if (!fixture) return;
    const ctx = context();
    const left = await listInstances(ctx, { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(ctx, left, 'dev').catch(() => {});
    await removeNetwork(fixture.engine, `berth-${fixture.name}-lan`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  step(RELEASED, async () => {
    await releaseService(context(), svc, 'dev', { timeoutMs: TIMEOUT_MS });
    const status = await statusOf(context());
    assert.deepEqual(
      status.environments.map((e) => [e.service, e.environment, e.replicas, e.running, e.drift]),
      [[svc, 'dev', 2, 2, []]],
    );
    assert.deepEqual(status.drift, []);
    const rollouts = (await rolloutsOf(db, svc, 'dev')).length;
    const report = await reconcileOnce(context());
    assert.deepEqual(report.actions, []);
    assert.deepEqual(report.drift, []);
    assert.equal((await rolloutsOf(db, svc, 'dev')).length, rollouts, 'a pass with nothing to fix journals nothing');
  });

  step(RECREATED, async () => {
    needs(RELEASED);
    const before = await instances();
    const [gone, kept] = before;
    await fixture.engine.containers.remove(gone!.id);

    const status = await statusOf(context());
    assert.deepEqual(status.drift.map((d) => [d.kind, d.service, d.slot]), [['missing', svc, gone!.slot]]);
    assert.match(status.drift[0]!.message, /the reconciler recreates it/);
    assert.deepEqual(status.environments[0]!.drift.map((d) => [d.kind, d.slot]), [['missing', gone!.slot]]);
    assert.equal(status.environments[0]!.running, 1);

    const events: ReconcileEvent[] = [];
    const audit: unknown[] = [];
    const report = await reconcileOnce(context(), { emit: (e) => events.push(e), audit: (a) => void audit.push(a), timeoutMs: TIMEOUT_MS });
    assert.deepEqual(
      report.actions.map((a) => [a.type, a.action, a.service, a.environment, a.slot, a.outcome]),
      [['reconcile', 'recreate', svc, 'dev', gone!.slot, 'succeeded']],
      JSON.stringify(report),
    );
    assert.deepEqual(events, report.actions);
    assert.equal(audit.length, 1);
    assert.deepEqual(report.drift, []);

    const after = await instances();
    assert.deepEqual(identity(after), identity(before), 'the same slots, states, IPs and MACs');
    assert.notEqual(after[0]!.id, gone!.id);
    assert.equal(after[1]!.id, kept!.id, 'the instance that ran was left alone');
    const last = (await rolloutsOf(db, svc, 'dev'))[0]!;
    assert.deepEqual([last.kind, last.actor, last.status], ['reconcile', 'reconciler', 'succeeded']);
    const served = await door();
    assert.deepEqual(served.servers.map((s) => [s.name, s.address, s.state]).sort(), after.map((i) => [i.slot, `${i.ip}:8080`, 'ready']).sort());

    const clean = await statusOf(context());
    assert.deepEqual(clean.drift, []);
    assert.deepEqual(clean.environments.map((e) => [e.running, e.healthy]), [[2, 2]]);
  });

  it('a container stopped by hand (exited; its engine does not restart it) is recreated on its slot and address (needs: the removed container recreated)', async () => {
    needs(RECREATED);
    const before = await instances();
    await fixture.engine.containers.stop(before[1]!.id, 1);
    const status = await statusOf(context());
    assert.deepEqual(status.drift.map((d) => [d.kind, d.slot]), [['exited', before[1]!.slot]]);
    const report = await reconcileOnce(context(), { timeoutMs: TIMEOUT_MS });
    assert.deepEqual(report.actions.map((a) => [a.action, a.slot, a.outcome]), [['recreate', before[1]!.slot, 'succeeded']], JSON.stringify(report));
    const after = await instances();
    assert.deepEqual(identity(after), identity(before));
    assert.notEqual(after[1]!.id, before[1]!.id);
  });

  it('a front door container removed by hand answers on its port again after a pass, with the same backends (needs: the removed container recreated)', async () => {
    needs(RECREATED);
    const was = await door();
    assert.ok(was.running);
    const container = doorContainerName(fixture.name, `dev-${svc}`);
    const port = (await frontDoorPort(db, svc, 'dev'))!.port;
    assert.equal(await answer(port), '200 hello');
    await fixture.engine.containers.remove(container);
    assert.equal((await door()).running, false);
    const status = await statusOf(context());
    assert.deepEqual(status.drift.map((d) => d.kind), ['front-door-down']);

    const restarted = await until('a pass restores the front door', async () => {
      const report = await reconcileOnce(context(), { timeoutMs: TIMEOUT_MS });
      return report.actions.find((a) => a.action === 'restart-front-door' && a.outcome === 'succeeded');
    });
    assert.equal(restarted.service, svc);
    const now = await door();
    assert.ok(now.running);
    assert.deepEqual(now.members.map((m) => [m.container, m.state]), [[container, 'running']]);
    assert.equal((await frontDoorPort(db, svc, 'dev'))!.port, port, 'the same port');
    assert.deepEqual(now.servers.map((s) => [s.name, s.address]).sort(), was.servers.map((s) => [s.name, s.address]).sort());
    assert.equal(await until('the front door answers', async () => answer(port)), '200 hello');
    assert.deepEqual((await statusOf(context())).drift, []);
  });

  it('the loop: a container removed by hand is recreated without anyone asking, on its slot and address; a front door stopped by hand is back (needs: the removed container recreated)', async () => {
    needs(RECREATED);
    const before = await instances();
    const events: ReconcilerEvent[] = [];
    // A long interval: what starts the pass is the engine's destroy event (or the first pass at start).
    const reconciler = startReconciler(async () => context(), { intervalMs: 600_000, debounceMs: 200, emit: (e) => events.push(e), timeoutMs: TIMEOUT_MS });
    try {
      // The first pass at start finds nothing to do; then the removal.
      await reconciler.runNow();
      await fixture.engine.containers.remove(before[0]!.id);
      const done = await until('the loop recreates the slot', async () => events.find((e) => e.type === 'reconcile' && e.action === 'recreate' && e.outcome === 'succeeded'));
      assert.equal(done.type === 'reconcile' && done.slot, before[0]!.slot);
      assert.deepEqual(identity(await instances()), identity(before));

      // A door stopped by hand (the engine's restart policy leaves it stopped): its die event starts a pass.
      await fixture.engine.containers.stop(doorContainerName(fixture.name, `dev-${svc}`), 1);
      const back = await until('the loop restarts the front door', async () => events.find((e) => e.type === 'reconcile' && e.action === 'restart-front-door' && e.outcome === 'succeeded'));
      assert.equal(back.type === 'reconcile' && back.service, svc);
      const port = (await frontDoorPort(db, svc, 'dev'))!.port;
      assert.equal(await until('the front door answers', async () => answer(port)), '200 hello');
      assert.deepEqual(events.filter((e) => e.type === 'reconcile-failed'), []);
    } finally {
      await reconciler.stop();
    }
    await assert.rejects(reconciler.runNow(), /stopped/);
  });
});
