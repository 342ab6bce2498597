/** Integration: builds small trees on the real engine from a tiny busybox root. */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { loadProject } from '../config/project.js';
import { openStore, closeStore } from '../store/db.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { buildProject, planProject, type BuildSummary } from './builder.js';
import { steps } from '../testing/steps.js';

async function build(fixture: Fixture, only: string[] = []): Promise<BuildSummary> {
  const project = loadProject(fixture.dir, fixture.env);
  const db = await openStore(project.stateDir);
  try {
    return await buildProject(project, fixture.engine, db, { only, env: fixture.env });
  } finally {
    await closeStore(db);
  }
}

const names = (list: { name: string }[]) => list.map((i) => i.name).sort();

describe('berth build on the real engine', () => {
  const step = steps();
  let fixture: Fixture;

  before(async () => {
    const root = await tinyRootTarball();
    fixture = await makeFixture({
      base: { settings: { root: { tarball: root } }, static: '#!/bin/sh\necho base > /base.txt\n' },
      jdk: { settings: { from: 'base' }, static: '#!/bin/sh\necho jdk > /jdk.txt\n' },
      tomcat: { settings: { from: 'jdk' } },
      shop: { settings: { from: 'tomcat', command: ['sleep', '1'] } },
      node: { settings: { from: 'base' }, files: { 'static/etc/node.conf': 'port=1\n' } },
      web: { settings: { from: 'node' } },
    });
  });
  after(() => fixture.cleanup());

  step('builds every image of a new tree, parents first, and tags each with its key', async () => {
    const summary = await build(fixture);
    assert.deepEqual(summary.failed, []);
    assert.deepEqual(names(summary.built), ['base', 'jdk', 'node', 'shop', 'tomcat', 'web']);
    for (const built of summary.built) {
      const image = await fixture.engine.images.inspect(built.tag);
      assert.ok(image, `${built.tag} exists`);
      assert.equal(image.labels['berth.image'], built.name);
      assert.equal(image.labels['berth.key'], built.key);
      assert.ok(image.labels['org.opencontainers.image.created']);
      assert.match(built.tag, new RegExp(`^berth/${built.name}:[0-9a-f]{12}$`));
    }
    const shop = await fixture.engine.images.inspect(summary.built.find((b) => b.name === 'shop')!.tag);
    assert.equal(shop!.labels['berth.parent'], 'tomcat');
    assert.match(shop!.labels['org.opencontainers.image.base.name']!, /^berth\/tomcat:/);
  });

  step('skips everything when nothing changed', async () => {
    const summary = await build(fixture);
    assert.deepEqual(summary.built, []);
    assert.equal(summary.upToDate.length, 6);
  });

  step('rebuilds exactly the changed image and its descendants, and says why', async () => {
    fixture.write('images/jdk/static.sh', '#!/bin/sh\necho jdk v2 > /jdk.txt\n', 0o755);
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const plan = await planProject(project, fixture.engine, db).finally(() => closeStore(db));
    const byName = new Map(plan.map((e) => [e.name, e]));
    assert.equal(byName.get('jdk')!.action, 'build');
    assert.equal(byName.get('jdk')!.reason, 'static.sh changed');
    assert.equal(byName.get('tomcat')!.reason, 'parent "jdk" will be rebuilt');
    assert.equal(byName.get('node')!.action, 'skip');

    const summary = await build(fixture);
    assert.deepEqual(names(summary.built), ['jdk', 'shop', 'tomcat']);
    assert.deepEqual(names(summary.upToDate), ['base', 'node', 'web']);
  });

  step('does not rebuild when only a file mtime changes', async () => {
    fixture.write('images/node/static/etc/node.conf', 'port=1\n');
    const summary = await build(fixture);
    assert.deepEqual(summary.built, []);
  });

  step('a failing static.sh skips only its descendants, names the line, and leaves no tag', async () => {
    fixture.write('images/jdk/static.sh', '#!/bin/sh\necho starting\necho about to fail\nexit 7\necho never\n', 0o755);
    fixture.write('images/node/static.sh', '#!/bin/sh\necho node v2\n', 0o755);
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const plan = await planProject(project, fixture.engine, db).finally(() => closeStore(db));
    const jdkKey = plan.find((e) => e.name === 'jdk')!.key!;

    const summary = await build(fixture);
    assert.equal(summary.failed.length, 1);
    const failure = summary.failed[0]!;
    assert.equal(failure.image, 'jdk');
    assert.equal(failure.line, 4);
    assert.equal(failure.source, 'exit 7');
    assert.match(failure.message, /images\/jdk\/static\.sh:4 failed with exit code 7/);
    assert.ok(failure.tail.includes('about to fail'), `tail has the script output: ${failure.tail.join(' / ')}`);
    assert.deepEqual(summary.blocked.map((b) => b.image).sort(), ['shop', 'tomcat']);
    assert.ok(summary.blocked.every((b) => b.because === 'jdk'));
    assert.deepEqual(names(summary.built), ['node', 'web']);
    assert.equal(await fixture.engine.images.inspect(`berth/jdk:${jdkKey.slice(0, 12)}`), undefined);
  });
});
