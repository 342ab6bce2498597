/**
 * Crash safety of the rollout executor, on the FakeEngine and a FakeDoor: a release of 3
 * instances on a flat network (each slot keeps its IP and MAC) is "killed" at each checkpoint
 * it passes, in turn, and the next command resumes it. The kill is in-process and honest: the
 * checkpoint fault (fault.ts) returns a promise that never settles, so the killed run stops
 * there for good (no catch, finally or rollback runs), and from then on every call it would
 * make to the engine or the front door never returns; its store handle is closed. It held
 * its lease as another process on another host, by a clock that stopped when it died, so the
 * next run (this process, its clock past the lease's TTL) finds that holder gone.
 *
 * After each kill, the next command (alternately the server's resume, recoverInterrupted,
 * and `berth release` of the same image) must say it found the interrupted rollout and
 * resumes it, and leave everything converged: exactly the 3 slots running the release the
 * history says the environment runs, no set-aside or surplus container, IPAM holding exactly
 * their addresses, the front door holding exactly them, ready; no lease, no rollout running.
 * The same as release/crash.int.test.ts asserts for a real engine and a real SIGKILL, which
 * keeps only a few representative kill points.
 *
 * Undone: a release whose instance dies in slot 2 (slot 1 already replaced) fails and rolls
 * back; killed at each checkpoint of its rollback, the next command finishes the rollback
 * and the environment runs the release before, converged the same way.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import { injectCheckpointFault } from '../fault.js';
import type { Engine } from '../engine/engine.js';
import { releaseService } from '../release/operations.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { containerName } from '../runtime/slots.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { leaseOf } from '../store/leases.js';
import { assertSlotsHoldTheirAddresses } from '../testing/crash-assertions.js';
import { Doomed, doomedRuns as runs, severed } from '../testing/doomed.js';
import { currentRelease, openRollout, releaseOf, releasesOf, rolloutsOf } from '../store/releases.js';
import { FakeDoor } from '../testing/fake-door.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { recoverInterrupted, type RolloutOptions, type RolloutResult } from './executor.js';

const SLOTS = ['web-dev-1', 'web-dev-2', 'web-dev-3'];
const TTL_MS = 30_000;
/** A release that replaces 3 instances one at a time passes more checkpoints than this. */
const MIN_KILL_POINTS = 8;
/** A safety net: a fault that never stops killing would loop forever. */
const MAX_KILL_POINTS = 60;

describe('a release killed at each of its checkpoints in turn, on the FakeEngine', () => {
  let dir: string;
  let project: Project;
  let env: NodeJS.ProcessEnv;
  let db: Store;
  let engine: FakeEngine;
  const door = new FakeDoor();
  const images: Record<'A' | 'B' | 'C', string> = { A: '', B: '', C: '' };
  const noRealEngine = (spec: { name: string }): Engine => assert.fail(`the test connected to a real engine for host ${spec.name}`);
  const context = (store: Store, reach: Engine = engine): RunContext => ({ project, db: store, hosts: new Hosts(project, reach, noRealEngine), env });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-crash-on-fake-'));
    mkdirSync(join(dir, 'images/web'), { recursive: true });
    writeFileSync(join(dir, 'images/web/static.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(
      join(dir, 'berth.yaml'),
      stringify({
        project: 'shop',
        images: { web: { root: {} } },
        networks: { lan: { mode: 'flat', bridge: 'brcrash', subnet: '10.99.0.0/24', gateway: '10.99.0.1', range: '10.99.0.10-10.99.0.20', create_bridge: true, quarantine: '0s' } },
        services: { web: { image: 'web', ports: [8080], health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 1, drain: '0s' } } },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1', services: { web: { replicas: 3 } } } },
      }),
    );
    env = { BERTH_STATE_DIR: join(dir, '.berth'), BERTH_ACTOR: 'test' };
    project = loadProject(dir, env, dir);
    db = await openStore(project.stateDir);
    engine = new FakeEngine({ endpoint: project.hosts[0]!.engine });
    for (const version of ['A', 'B', 'C'] as const) images[version] = engine.addImage({ tags: [`berth/web:${version}`], labels: { 'berth.image': 'web', 'berth.project': 'shop' } });
    // C runs in slot 1, but its process in slot 2 dies at its first health check: a release of C fails there and rolls slot 1 back.
    engine.scriptExec(async (c, cmd) => {
      if (cmd[0] !== 'check-web') return undefined;
      const state = await engine.containers.inspect(c.id);
      if (state?.image !== images.C || state.labels['berth.instance'] !== 'web-dev-2') return { exitCode: 0, output: '' };
      engine.exit(c.id, 1);
      return { exitCode: 1, output: 'dying\n' };
    });
    injectCheckpointFault((where) => runs.getStore()?.reach(where));
  });

  after(async () => {
    injectCheckpointFault(undefined);
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A release of `image` by a run that dies at its `at`-th checkpoint: as another process on
   * another host, with its own store handle, its clock stopped at its start.
   */
  async function doomedRelease(image: string, at: number) {
    const doomed = new Doomed(at);
    /** The notes it emitted, each with how many checkpoints it had passed then. */
    const notes: { text: string; passed: number }[] = [];
    const store = await openStore(project.stateDir);
    const bornAt = Date.now();
    const options: RolloutOptions & { image: string } = {
      image,
      door: severed(door, () => doomed.dead),
      timeoutMs: 10_000,
      emit: (event) => void (event.type === 'note' && notes.push({ text: event.text, passed: doomed.passed.length })),
      lease: { ttlMs: TTL_MS, now: () => bornAt, as: { holder: `killed-run-${at}`, pid: 4_000_000 + at, hostname: 'a-host-that-died' } },
    };
    let settled: 'pending' | 'succeeded' | 'failed' = 'pending';
    let failure: unknown;
    const attempt = runs.run(doomed, () => releaseService(context(store, severed(engine, () => doomed.dead)), 'web', 'dev', options));
    const outcome = attempt.then(
      (result) => ((settled = 'succeeded'), result),
      (error: unknown) => ((settled = 'failed'), (failure = error), undefined),
    );
    const where = await Promise.race([doomed.death, outcome.then(() => undefined)]);
    // Its store handle goes with it (a lease renewal it still had scheduled then fails and stops).
    await closeStore(store);
    return { doomed, where, outcome, notes, settled: () => settled, failure: () => failure };
  }

  /** This process, after the doomed one: its clock past the dead holder's lease. */
  const nextOptions = (notes: string[]): RolloutOptions => ({
    door,
    timeoutMs: 10_000,
    lease: { ttlMs: TTL_MS, now: () => Date.now() + 2 * TTL_MS },
    emit: (event) => void (event.type === 'note' && notes.push(event.text)),
  });

  /** Everything converged, for the release the history says dev runs. */
  async function assertConverged(label: string, expectedImage: string): Promise<void> {
    const ctx = context(db);
    assert.equal(await leaseOf(db, 'web', 'dev'), undefined, `${label}: a lease is left`);
    assert.equal(await openRollout(db, 'web', 'dev'), undefined, `${label}: a rollout is still open`);
    assert.deepEqual((await rolloutsOf(db, 'web', 'dev')).filter((r) => r.status === 'running'), [], `${label}: a rollout is still running`);
    const current = await currentRelease(db, 'web', 'dev');
    assert.ok(current !== undefined, `${label}: dev runs no release`);
    const release = (await releaseOf(db, 'web', current))!;
    assert.equal(release.imageId, expectedImage, `${label}: dev runs release ${current}, not the one rolled out`);

    // The engine: exactly the 3 slots, running, under their own names, all on that release's image.
    const all = await engine.containers.summaries([`${RUN_LABELS.project}=shop`]);
    assert.deepEqual(all.map((c) => [c.name, c.state]).sort(), SLOTS.map((slot) => [containerName('shop', slot), 'running']), `${label}: containers ${all.map((c) => `${c.name} (${c.state})`).join(', ')}`);
    const instances = await assertSlotsHoldTheirAddresses(ctx, engine, SLOTS, release.imageId, label);

    // The front door: exactly the 3 slots at their current addresses, ready, with weight.
    assert.equal(door.closed, false, `${label}: the front door was closed`);
    assert.deepEqual(
      door.servers().map((s) => [s.name, s.address, s.port, s.state]),
      instances.map((i) => [i.slot, i.ip, 8080, 'ready']),
      `${label}: front door servers ${JSON.stringify(door.servers())}`,
    );
    assert.ok(door.servers().every((s) => s.weight > 0), `${label}: a server has weight 0`);
  }

  it('after a kill at any checkpoint, the next command resumes the rollout and everything converges', async (t) => {
    const first = await releaseService(context(db), 'web', 'dev', { door, timeoutMs: 10_000, image: 'berth/web:A' });
    assert.equal(first.status, 'succeeded');
    await assertConverged('first release', images.A);

    // The checkpoints a release from A to B passes, counted by a run that never dies.
    const counted = await doomedRelease('berth/web:B', 0);
    assert.equal(counted.where, undefined);
    assert.equal((await counted.outcome)?.status, 'succeeded');
    await assertConverged('counting release', images.B);
    const checkpoints = counted.doomed.passed;
    assert.ok(checkpoints.length >= MIN_KILL_POINTS, `only ${checkpoints.length} checkpoints: ${checkpoints.join(' ')}`);
    for (const where of ['step', 'launch', 'created', 'started', 'healthy', 'renamed', 'replace']) assert.ok(checkpoints.includes(where), `a release passes no "${where}" checkpoint: ${checkpoints.join(' ')}`);
    // One "step" checkpoint per step of the journaled plan, those that prepare the rollout (the release row) included: each is a kill point below.
    const countedPlan = JSON.parse((await rolloutsOf(db, 'web', 'dev'))[0]!.plan) as { steps: { op: string }[] };
    assert.deepEqual(countedPlan.steps.map((s) => s.op), ['front-door', 'record-release', 'drain', 'replace', 'drain', 'replace', 'drain', 'replace', 'converge']);
    assert.equal(checkpoints.filter((where) => where === 'step').length, countedPlan.steps.length, checkpoints.join(' '));

    let running: 'A' | 'B' = 'B';
    const kills: string[] = [];
    for (let n = 1; ; n++) {
      assert.ok(n <= MAX_KILL_POINTS, `still killed at checkpoint ${MAX_KILL_POINTS}: the fault never stops`);
      const next: 'A' | 'B' = running === 'A' ? 'B' : 'A';
      const releasesBefore = (await releasesOf(db, 'web')).length;
      const killed = await doomedRelease(`berth/web:${next}`, n);
      if (killed.where === undefined) {
        // Past the last checkpoint: the release ran to its end.
        assert.equal((await killed.outcome)?.status, 'succeeded', String(killed.failure()));
        assert.equal(n, checkpoints.length + 1, `the release passed ${n - 1} checkpoints, the counted one ${checkpoints.length}`);
        await assertConverged(`kill at ${n} (not killed)`, images[next]);
        break;
      }
      const label = `kill ${n} at "${killed.where}"`;
      assert.equal(killed.where, checkpoints[n - 1], `${label}: the checkpoints are not those counted`);
      // What the kill left: the journal of a rollout still running, under the dead holder's lease.
      const journal = await openRollout(db, 'web', 'dev');
      assert.ok(journal && journal.status === 'running', `${label}: no running rollout in the journal`);
      // The release: recorded by its step, or (killed before that step) only reserved, its number and image in the journal's plan.
      const planned = (JSON.parse(journal.plan) as { steps: { op: string; release?: { number: number; imageId: string } }[] }).steps.find((s) => s.op === 'record-release')?.release;
      assert.deepEqual([planned?.number, planned?.imageId], [journal.release, images[next]], `${label}: the journal plans no record of the release`);
      const recorded = (await releasesOf(db, 'web')).length;
      assert.ok(recorded === releasesBefore + 1 || (recorded === releasesBefore && (await releaseOf(db, 'web', journal.release)) === undefined), `${label}: ${recorded} releases, ${releasesBefore} before`);
      const lease = await leaseOf(db, 'web', 'dev');
      assert.deepEqual([lease?.hostname, lease?.rollout], ['a-host-that-died', journal.id], `${label}: the lease ${JSON.stringify(lease)}`);
      const left = (await engine.containers.summaries([`${RUN_LABELS.project}=shop`])).map((c) => `${c.name}:${c.state}`).sort().join(' ');

      // The next command: the server's resume, or a release of the same image.
      const notes: string[] = [];
      let resumed: RolloutResult | undefined;
      if (n % 2 === 1) {
        resumed = await recoverInterrupted(context(db), 'web', 'dev', nextOptions(notes));
        assert.ok(resumed, `${label}: nothing to resume`);
        assert.deepEqual([resumed.rollout, resumed.status], [journal.id, 'succeeded'], `${label}: ${JSON.stringify(resumed)}`);
      } else {
        resumed = await releaseService(context(db), 'web', 'dev', { ...nextOptions(notes), image: `berth/web:${next}` });
        assert.deepEqual([resumed.rollout, resumed.status, resumed.message], [journal.id, 'succeeded', `finished the interrupted rollout #${journal.id}`], `${label}: ${JSON.stringify(resumed)}`);
      }
      const note = notes.find((text) => /interrupted/.test(text));
      assert.ok(note, `${label}: the next command did not say it found the interrupted rollout: ${notes.join(' | ')}`);
      assert.match(note, new RegExp(`^rollout #${journal.id} `), `${label}: the note names another rollout`);
      assert.match(note, /resumes/, `${label}: the note does not say it resumes`);
      const record = (await rolloutsOf(db, 'web', 'dev')).find((r) => r.id === journal.id)!;
      assert.deepEqual([record.kind, record.status], ['release', 'succeeded'], `${label}: ${JSON.stringify(record)}`);
      assert.equal((await releasesOf(db, 'web')).length, releasesBefore + 1, `${label}: the release was not recorded once`);
      assert.equal((await releaseOf(db, 'web', journal.release))?.imageId, images[next], `${label}: release ${journal.release} is not the one planned`);
      await assertConverged(label, images[next]);

      // Nothing more of the killed run ever happened: it is still stopped where it died.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(killed.settled(), 'pending', `${label}: the killed run went on and ${killed.settled()} (${String(killed.failure())})`);
      kills.push(`${label}, left ${left}`);
      running = next;
    }
    for (const k of kills) t.diagnostic(k);
    assert.equal(kills.length, checkpoints.length);
  });
  it('a release that fails and is killed while rolling back: the next command finishes the rollback, back on the release before', async (t) => {
    const before = (await releaseOf(db, 'web', (await currentRelease(db, 'web', 'dev'))!))!;
    // A release of C (never healthy), counted by a run that never dies: it fails and rolls back.
    const counted = await doomedRelease('berth/web:C', 0);
    assert.equal(counted.where, undefined);
    await counted.outcome;
    assert.equal((counted.failure() as { kind?: string } | undefined)?.kind, 'rolled-back', String(counted.failure()));
    await assertConverged('the counted failed release', before.imageId);
    const back = counted.notes.find((note) => note.text.startsWith(`rolling back to release ${before.number}`));
    assert.ok(back, `no note of the rollback: ${counted.notes.map((note) => note.text).join(' | ')}`);
    const checkpoints = counted.doomed.passed;
    // Slot 1 runs C when slot 2 fails: rolling back replaces it again.
    for (const where of ['renamed', 'created', 'started', 'healthy']) assert.ok(checkpoints.slice(back.passed).includes(where), `the rollback passes no "${where}" checkpoint: ${checkpoints.slice(back.passed).join(' ')}`);

    for (let n = back.passed + 1; n <= checkpoints.length; n++) {
      const killed = await doomedRelease('berth/web:C', n);
      const label = `kill ${n} at "${killed.where}" while rolling back`;
      assert.equal(killed.where, checkpoints[n - 1], `${label}: the checkpoints are not those counted`);
      const journal = await openRollout(db, 'web', 'dev');
      assert.ok(journal && journal.status === 'running', `${label}: no running rollout in the journal`);
      assert.equal((JSON.parse(journal.plan) as { phase: string }).phase, 'rollback', `${label}: the journal is not rolling back`);

      const notes: string[] = [];
      const resumed = await recoverInterrupted(context(db), 'web', 'dev', nextOptions(notes));
      assert.deepEqual([resumed?.rollout, resumed?.status, resumed?.release], [journal.id, 'rolled-back', before.number], `${label}: ${JSON.stringify(resumed)}`);
      const note = notes.find((text) => /interrupted/.test(text));
      assert.ok(note, `${label}: the next command did not say it found the interrupted rollout: ${notes.join(' | ')}`);
      assert.match(note, new RegExp(`^rollout #${journal.id} .*the rollback resumes`), `${label}: ${note}`);
      await assertConverged(label, before.imageId);
      assert.equal(await currentRelease(db, 'web', 'dev'), before.number, `${label}: dev does not run release ${before.number} again`);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(killed.settled(), 'pending', `${label}: the killed run went on and ${killed.settled()} (${String(killed.failure())})`);
      t.diagnostic(`${label}: the rollback resumed`);
    }
  });
});
