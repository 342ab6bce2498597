/**
 * Integration: Berth's registry on a free port, a small tree (tiny busybox
 * root → app, web) pushed, re-pushed, expired, collected, and collected again
 * while a bounded loop of builds and pushes goes on.
 */
import { sqliteOf } from '../store/db.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { pushesTo } from '../store/pushes.js';
import { protectDigest } from '../store/refs.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { sleep } from '../time.js';
import type { GcReport } from './gc.js';
import { registryDown, registryStatus, registryUp } from './process.js';
import type { PushEvent } from './push.js';
import { build, freePort, gc, pullAndVerify, push, target, withStore } from './testing.js';
import { steps } from '../testing/steps.js';

const DAY = 86_400_000;
/** app's static.sh: version n writes 200 kB of its own random data, so each build has a layer of its own. */
const appScript = (n: number) => `#!/bin/sh\n# version ${n}\nhead -c 200000 /dev/urandom > /app-${n}.bin\n`;

describe('berth push and berth registry gc on a real registry', () => {
  const step = steps();
  let fixture: Fixture;
  let root: string;
  const digests = new Map<string, string>();

  const settings = (retention: Record<string, unknown>, port: number) => ({
    registry: { listen: `127.0.0.1:${port}` },
    retention,
  });

  before(async () => {
    root = await tinyRootTarball();
    const port = await freePort();
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: root } }, static: '#!/bin/sh\necho base > /base.txt\n' },
        app: { settings: { from: 'base' }, static: appScript(1) },
        web: { settings: { from: 'base' }, static: '#!/bin/sh\necho web > /web.txt\n' },
      },
      settings({ keep_last: 1, keep_younger_than: '0s' }, port),
    );
    await registryUp(target(fixture));
  });

  after(async () => {
    await registryDown(target(fixture)).catch(() => {});
    await fixture.cleanup();
  });

  step('pushes a small tree parents first; a child uploads only its own layers; digests are recorded', async () => {
    assert.deepEqual((await build(fixture)).failed, []);
    const events: PushEvent[] = [];
    const summary = await push(fixture, { onEvent: (e) => events.push(e) });
    assert.deepEqual(summary.failed, []);
    assert.deepEqual(summary.pushed.map((p) => p.name).sort(), ['app', 'base', 'web']);
    const order = events.filter((e) => e.type === 'start' || e.type === 'done').map((e) => `${e.type}:${e.image}`);
    assert.ok(order.indexOf('done:base') < order.indexOf('start:app') && order.indexOf('done:base') < order.indexOf('start:web'), order.join(' '));

    const client = target(fixture).client;
    const byName = new Map(summary.pushed.map((p) => [p.name, p]));
    const baseLayers = (await client.manifest('berth/base', byName.get('base')!.digest))!.blobs.length - 1;
    const appLayers = (await client.manifest('berth/app', byName.get('app')!.digest))!.blobs.length - 1;
    assert.equal(byName.get('app')!.existing, baseLayers, "the parent's layers are already there");
    assert.equal(byName.get('app')!.uploaded, appLayers - baseLayers, 'only its own layers are uploaded');

    await withStore(fixture, async (project, db) => {
      const records = await pushesTo(db, target(fixture).address);
      assert.equal(records.length, 3);
      for (const r of records) assert.equal((await client.manifestDigest(r.repository, r.tag))?.digest, r.digest);
      assert.equal(project.registry.listen, target(fixture).address);
    });
    for (const p of summary.pushed) digests.set(`${p.name}:1`, p.digest);
  });

  step("the engine pulls what Berth uploaded itself (uncompressed layers, OCI manifest) back to the very image", async () => {
    const web = [...(await fixture.engine.images.list(`berth.project=${fixture.name}`))].find((i) => i.tags.some((t) => t.startsWith('berth/web:')))!;
    const ownTag = web.tags.find((t) => t.startsWith('berth/web:'))!;
    await fixture.engine.images.remove(ownTag);
    assert.equal(await fixture.engine.images.has(web.id), false, 'the image is gone from the engine before the pull');
    const address = target(fixture).address;
    const { downloaded } = await fixture.engine.images.pull(`${address}/berth/web`, digests.get('web:1')!, { serveraddress: address });
    assert.ok(downloaded >= 1, `downloaded ${downloaded} layer(s)`);
    const pulled = await fixture.engine.images.inspect(`${address}/berth/web@${digests.get('web:1')}`);
    assert.equal(pulled?.id, web.id, 'same image ID: same config, same layers');
    // Berth's own tag back, as the build left it; the registry's name goes.
    const [repo, tag] = ownTag.split(':') as [string, string];
    await fixture.engine.images.tag(web.id, repo, tag);
    for (const t of pulled!.tags) await fixture.engine.images.remove(t).catch(() => {});
    await fixture.engine.images.remove(`${address}/berth/web@${digests.get('web:1')}`).catch(() => {});
  });

  step('re-pushes the unchanged tree without uploading anything', async () => {
    const events: PushEvent[] = [];
    const summary = await push(fixture, { onEvent: (e) => events.push(e) });
    assert.deepEqual(summary.pushed, []);
    assert.equal(summary.upToDate.length, 3);
    assert.ok(!events.some((e) => e.type === 'start' || e.type === 'progress'));
  });

  step('retention deletes only unprotected builds; GC frees space and every protected image still pulls by digest', async () => {
    // app v1 is deployed somewhere; v2 is neither current nor recent nor young nor referenced; v3 is current.
    await withStore(fixture, async (_, db) => await protectDigest(db, { repository: 'berth/app', digest: digests.get('app:1')!, kind: 'deployed', environment: 'test', service: 'app' }));
    for (const n of [2, 3]) {
      fixture.write('images/app/static.sh', appScript(n), 0o755);
      assert.deepEqual((await build(fixture)).failed, []);
      const summary = await push(fixture);
      assert.deepEqual(summary.pushed.map((p) => p.name), ['app']);
      digests.set(`app:${n}`, summary.pushed[0]!.digest);
    }

    const dry = await gc(fixture, { dryRun: true });
    assert.deepEqual(dry.plan.delete.map((m) => m.digest), [digests.get('app:2')]);
    assert.equal(dry.deleted.length, 0);
    const kept = new Map(dry.plan.protected.map((p) => [p.digest, p.reasons.join('; ')]));
    assert.match(kept.get(digests.get('app:1')!)!, /deployed \(service app in test\)/);
    assert.match(kept.get(digests.get('app:3')!)!, /current build/);

    const report = await gc(fixture);
    assert.deepEqual(report.deleted.map((m) => m.digest), [digests.get('app:2')]);
    assert.ok(report.bytesFreed! >= 200_000, `freed ${report.bytesFreed} bytes`);
    assert.ok(report.blobsDeleted >= 1);
    assert.equal(report.verified?.testPush, true);
    const client = target(fixture).client;
    assert.equal(await client.manifestDigest('berth/app', digests.get('app:2')!), undefined);
    for (const p of report.plan.protected) await pullAndVerify(client, p.repository, p.digest);
    for (const name of ['base:1', 'web:1', 'app:1', 'app:3']) assert.ok(kept.has(digests.get(name)!), `${name} is protected`);

    const status = await registryStatus(target(fixture));
    assert.equal(status.mode, 'writable');
    assert.equal(status.healthy, true);
    assert.equal(status.maintenance, null);
    assert.equal(status.repositories, 3);
    await withStore(fixture, async (_, db) => assert.ok(!(await pushesTo(db, target(fixture).address)).some((r) => r.digest === digests.get('app:2'))));
  });

  step('a push that meets a read-only registry waits and goes through once it is writable', async () => {
    await registryUp(target(fixture), { readOnly: true });
    fixture.write('images/web/static.sh', '#!/bin/sh\necho web v2 > /web.txt\n', 0o755);
    assert.deepEqual((await build(fixture)).failed, []);
    let writable: Promise<unknown> | undefined;
    const waits: string[] = [];
    const summary = await push(fixture, {
      retryForMs: 60_000,
      onEvent: (e) => {
        if (e.type !== 'wait') return;
        waits.push(e.reason);
        writable ??= registryUp(target(fixture), { readOnly: false });
      },
    });
    await writable;
    assert.ok(waits.length > 0, 'the push saw a refusal');
    assert.match(waits[0]!, /405|not allowed|read-only/i);
    assert.deepEqual(summary.failed, []);
    assert.deepEqual(summary.pushed.map((p) => p.name), ['web']);
    await pullAndVerify(target(fixture).client, 'berth/web', summary.pushed[0]!.digest);
  });

  step('GC while a bounded loop of builds and pushes goes on: every protected image and every successful push pulls and verifies', async () => {
    // Keep young builds now; two more builds are pushed, then every build so far is made two days old.
    fixture.write('berth.yaml', stringify({ project: fixture.name, images: readImages(fixture), ...settings({ keep_last: 1, keep_younger_than: '1h' }, Number(target(fixture).address.split(':')[1])) }));
    for (const n of [4, 5]) {
      fixture.write('images/app/static.sh', appScript(n), 0o755);
      assert.deepEqual((await build(fixture)).failed, []);
      const summary = await push(fixture);
      digests.set(`app:${n}`, summary.pushed[0]!.digest);
    }
    await withStore(fixture, async (_, db) => void sqliteOf(db).prepare('UPDATE builds SET built_at = built_at - ?').run(2 * DAY));

    const succeeded: { repository: string; digest: string }[] = [];
    let loopDone = false;
    const loop = (async () => {
      try {
        for (let n = 6; n <= 9; n++) {
          fixture.write('images/app/static.sh', appScript(n), 0o755);
          assert.deepEqual((await build(fixture)).failed, []);
          const summary = await push(fixture, { retryForMs: 120_000 });
          assert.deepEqual(summary.failed, []);
          for (const p of summary.pushed) succeeded.push({ repository: p.repository, digest: p.digest });
        }
      } finally {
        loopDone = true;
      }
    })();
    const reports: GcReport[] = [];
    const collector = (async () => {
      await sleep(300);
      while (!loopDone && reports.length < 3) reports.push(await gc(fixture));
    })();
    await Promise.all([loop, collector]);

    assert.ok(reports.length >= 1, 'GC ran during the loop');
    assert.ok(reports.some((r) => r.deleted.some((m) => m.digest === digests.get('app:4'))), 'the aged, unprotected app v4 was collected');
    assert.equal(succeeded.length, 4);
    const client = target(fixture).client;
    for (const s of succeeded) await pullAndVerify(client, s.repository, s.digest);
    const final = await gc(fixture, { dryRun: true });
    for (const p of final.plan.protected) await pullAndVerify(client, p.repository, p.digest);
    assert.ok(final.plan.protected.some((p) => p.digest === digests.get('app:1')), 'the deployed v1 is still protected');
    await withStore(fixture, async (_, db) => {
      for (const r of await pushesTo(db, target(fixture).address)) assert.ok(await client.manifestDigest(r.repository, r.digest), `recorded ${r.repository}@${r.digest} is in the registry`);
    });
    assert.equal((await registryStatus(target(fixture))).mode, 'writable');
  });
});

function readImages(fixture: Fixture): Record<string, unknown> {
  return (parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as { images: Record<string, unknown> }).images;
}
