/**
 * The warden's image as a system image (imaging/system-image.ts), on FakeEngines: built once on the build
 * engine from the Debian root, found by its exact key the second time (nothing rebuilt), recorded in
 * the warden's own store (never among the project's images), and a host other than the build
 * engine refused clearly while the image was never pushed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootKey, rootRef, ROOTFS_LABEL } from '../imaging/rootfs.js';
import { SYSTEM_PROJECT, systemImageRoot } from '../imaging/system-image.js';
import type { RunContext } from '../runtime/context.js';
import { buildsOf } from '../store/builds.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { buildWardenImage, wardenImageOn } from './warden-image.js';
import { WARDEN_IMAGE } from './warden-spec.js';

describe('the warden\'s image, built once and reused by its key', () => {
  let p: FakeProject;
  let folder = '';
  let db: Store;
  /** The project's run, with a cache folder of the test's own (where system images are written and locked). */
  let run: RunContext;

  before(async () => {
    p = await fakeProject('warden-image-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080] } },
        environments: { dev: { hosts: ['h1', 'h2'] } },
      },
    });
    folder = mkdtempSync(join(tmpdir(), 'berth-warden-image-'));
    db = await openStore(folder);
    run = { ...p.context, env: { ...p.context.env, BERTH_CACHE_DIR: join(folder, 'cache') } };
    // The Debian root is bootstrapped by mmdebstrap in real life; here the build engine has it already.
    const root = systemImageRoot(WARDEN_IMAGE, p.context.project.build);
    const key = await rootKey(root, undefined, db);
    p.engines.get('h1')!.addImage({ tags: [rootRef(root, key)], labels: { [ROOTFS_LABEL]: key } });
  });
  after(async () => {
    await closeStore(db);
    await p.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('is built on the build engine, labelled as the warden, and recorded only in the warden\'s store', async () => {
    const image = await buildWardenImage(run, db, { push: false });
    const built = await p.engines.get('h1')!.images.inspect(image.imageId);
    assert.equal(built?.labels['berth.role'], 'warden');
    assert.equal(built?.labels['berth.project'], SYSTEM_PROJECT, 'a system image: no user project\'s clean-up takes it');
    assert.equal(image.pushed, undefined);
    assert.equal((await buildsOf(db, 'warden')).length, 1);
    assert.deepEqual(await buildsOf(p.db, 'warden'), [], 'not among the project\'s builds');
    assert.equal(await p.engines.get('h2')!.images.has(image.imageId), false, 'only the build engine has it');
  });

  it('a second call finds it by its key and builds nothing', async () => {
    const first = (await buildsOf(db, 'warden'))[0]!;
    const image = await buildWardenImage(run, db, { push: false });
    assert.equal(image.imageId, first.imageId);
    assert.equal((await buildsOf(db, 'warden')).length, 1);
  });

  it('the build engine\'s host runs it by ID; another host is refused while it was never pushed', async () => {
    const image = await buildWardenImage(run, db, { push: false });
    const on = wardenImageOn(run, image);
    assert.equal(await on('h1'), image.imageId);
    await assert.rejects(on('h2'), /host h2 has no warden image: it was built on the build engine and never pushed/);
  });
});
