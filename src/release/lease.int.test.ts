/**
 * Integration: a stale lease holder on the real engine. Two run contexts on one
 * store (two connections to its file, as two processes have): the first rolls a
 * release out to 2 instances; during its second step its lease is found expired
 * (as after a stall past its TTL) and the second takes it over with a higher
 * token. The first's next journal write is refused with the lost-lease conflict
 * and it stops without undoing anything; the second resumes the rollout from
 * the journal to success, and the service runs the new release in both slots.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from './operate.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { isLostLease, leaseOf } from '../store/leases.js';
import { currentRelease, rolloutById } from '../store/releases.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { acquire, type LeaseOutcome } from '../rollout/lease.js';
import { releaseService } from './operations.js';
import type { RolloutPlan } from '../rollout/rollout-plan.js';
import { continueRollout } from '../rollout/executor.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

const run = promisify(execFile);
const TIMEOUT_MS = 30_000;

describe('a rollout whose lease another process took over', () => {
  let fixture: Fixture;
  /** Two connections to one store: the stale holder's and the new holder's. */
  let dbA: Store;
  let dbB: Store;
  let bridge: string;
  const images: Record<'A' | 'B', string> = { A: '', B: '' };
  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\n`;
  const context = (db: Store): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const stateDir = () => loadProject(fixture.dir, fixture.env).stateDir;

  before(async () => {
    const prefix = randomTestPrefix();
    bridge = `bl${randomBytes(3).toString('hex')}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('A') },
      },
      {
        networks: {
          lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.20`, create_bridge: true, quarantine: '0s' },
        },
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { http: '/', interval: '2s', timeout: '1s', unhealthy_after: 3 }, rollout: { batch_size: 1, drain: '1s' } } },
        environments: { dev: { network: 'lan', lb_address: '127.0.0.1' } },
      },
    );
    dbA = await openStore(stateDir());
    dbB = await openStore(stateDir());
    for (const version of ['A', 'B'] as const) {
      fixture.write('images/web/static.sh', page(version), 0o755);
      const summary = await buildProject(context(dbA).project, fixture.engine, dbA, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
    assert.notEqual(images.A, images.B);
  });

  after(async () => {
    if (!fixture) return;
    const left = await listInstances(context(dbA), { environment: 'dev' }).catch(() => []);
    if (left.length > 0) await removeInstances(context(dbA), left, 'dev').catch(() => {});
    await removeNetwork(fixture.engine, `berth-${fixture.name}-lan`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (dbA && await closeStore(dbA));
    await (dbB && await closeStore(dbB));
    await fixture.cleanup();
  });

  it("refuses the stale holder's write; the new holder resumes the rollout to success", async () => {
    const first = await releaseService(context(dbA), 'web', 'dev', { image: images.A, force: true, timeoutMs: TIMEOUT_MS });
    assert.equal(first.status, 'succeeded');

    let taken: LeaseOutcome | undefined;
    const stale = releaseService(context(dbA), 'web', 'dev', {
      image: images.B,
      force: true,
      timeoutMs: TIMEOUT_MS,
      emit: async (event) => {
        if (event.type !== 'step' || event.index !== 2 || taken) return;
        // The holder stalled past its lease: on the new holder's clock it expired. It takes the lease over while the stale
        // holder waits at this step's boundary (the sink holds it), so the step's journal writes are the first to meet the new token.
        taken = await acquire(dbB, 'web', 'dev', 0, { ttlMs: 30_000, now: () => Date.now() + 60_000 });
      },
    });
    const refused = await stale.then(
      () => assert.fail('the stale holder finished its rollout'),
      (error: unknown) => error,
    );
    assert.ok(taken?.interrupted, 'the new holder found no interrupted rollout');
    const id = taken.interrupted.id;
    assert.ok(isLostLease(refused), String(refused));
    assert.match(refused.message, new RegExp(`^rollout #${id} lost its lease of web in dev to berth process ${process.pid} on .* \\(fencing token (\\d+) < ${taken.lease.token}\\); it stops here and the holder resumes it$`));
    assert.ok(refused.fence && refused.fence.token < taken.lease.token);

    // Nothing undone, nothing journaled past the takeover: the rollout is still running at step 1 done, under the new lease.
    const journal = (await rolloutById(dbB, id))!;
    assert.deepEqual([journal.status, journal.done, journal.message], ['running', 1, '']);
    assert.equal((await leaseOf(dbB, 'web', 'dev'))!.token, taken.lease.token);

    const resumed = await continueRollout(context(dbB), id, JSON.parse(journal.plan) as RolloutPlan, { timeoutMs: TIMEOUT_MS }, { lease: taken.lease, from: journal.done });
    assert.deepEqual([resumed.rollout, resumed.status], [id, 'succeeded']);
    assert.equal((await rolloutById(dbB, id))!.status, 'succeeded');
    assert.equal(await currentRelease(dbB, 'web', 'dev'), resumed.release);
    assert.equal(await leaseOf(dbB, 'web', 'dev'), undefined);
    const running = await listInstances(context(dbB), { environment: 'dev', service: 'web' });
    // Both slots run what this rollout launched.
    assert.deepEqual(running.map((i) => [i.slot, i.state, i.deployment]).sort(), [
      ['web-dev-1', 'running', id],
      ['web-dev-2', 'running', id],
    ]);
  });
});
