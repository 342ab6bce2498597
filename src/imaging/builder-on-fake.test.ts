/** The build executor on the fake engine: what each one-container build is asked, in which order, and a second run. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadProject } from '../config/project.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { buildProject, type BuildSummary } from './builder.js';

describe('buildProject on the fake engine', () => {
  let dir: string;
  let db: Store;
  const engine = new FakeEngine();
  let first: BuildSummary;
  const build = () => {
    const env = { BERTH_STATE_DIR: join(dir, '.berth'), BERTH_CACHE_DIR: join(dir, 'cache') };
    return buildProject(loadProject(dir, env, dir), engine, db, { env });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-builder-fake-'));
    writeFileSync(join(dir, 'root.tar'), Buffer.alloc(1024));
    const images = {
      base: { root: { tarball: join(dir, 'root.tar') }, env: { BASE: '1' }, ports: [53] },
      jdk: { from: 'base', env: { JAVA_HOME: '/opt/jdk' } },
      shop: { from: 'jdk', command: ['run'] },
      node: { from: 'base' },
    };
    for (const name of Object.keys(images)) {
      mkdirSync(join(dir, 'images', name), { recursive: true });
      writeFileSync(join(dir, 'images', name, 'static.sh'), `#!/bin/sh\necho ${name}\n`, { mode: 0o755 });
    }
    writeFileSync(join(dir, 'berth.yaml'), stringify({ project: 'fakebuild', images, build: { proxy: { http: 'http://u:secret@proxy:1' } } }));
    const env = { BERTH_STATE_DIR: join(dir, '.berth') };
    db = await openStore(loadProject(dir, env, dir).stateDir);
    first = await build();
  });
  after(async () => {
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes each image in one container from its parent\'s built image, parents first', () => {
    assert.deepEqual(first.failed, []);
    const requests = engine.images.containerBuilds;
    const order = requests.map((r) => r.config.labels['berth.image']);
    assert.equal(order.length, 4);
    assert.ok(order.indexOf('base') < order.indexOf('jdk') && order.indexOf('jdk') < order.indexOf('shop') && order.indexOf('base') < order.indexOf('node'));
    const id = (name: string) => first.built.find((b) => b.name === name)!.imageId;
    const parentOf = (name: string) => requests.find((r) => r.config.labels['berth.image'] === name)!.parent;
    assert.equal(parentOf('jdk'), id('base'));
    assert.equal(parentOf('shop'), id('jdk'));
    assert.equal(parentOf('node'), id('base'));
  });

  it('commits a child with what it inherits from its parent\'s committed configuration', () => {
    const shop = engine.images.containerBuilds.find((r) => r.config.labels['berth.image'] === 'shop')!;
    assert.ok(shop.config.env.includes('BASE=1') && shop.config.env.includes('JAVA_HOME=/opt/jdk'));
    assert.deepEqual(shop.config.exposedPorts, ['53/tcp']);
    assert.deepEqual(shop.config.entrypoint, ['/opt/berth/bin/init']);
    assert.deepEqual(shop.config.cmd, ['run']);
    assert.equal(shop.tag, first.built.find((b) => b.name === 'shop')!.tag);
  });

  it('keeps the build arguments out of every container\'s configuration', () => {
    for (const request of engine.images.containerBuilds) {
      assert.ok(!JSON.stringify({ ...request, files: undefined }).includes('secret'), `${request.tag}: no proxy password in its request's configuration`);
      assert.ok(request.files.includes(Buffer.from('opt/berth/.build-args')), `${request.tag}: the arguments travel in the files`);
    }
  });

  it('builds nothing the second time', async () => {
    const second = await build();
    assert.deepEqual(second.built, []);
    assert.equal(second.upToDate.length, 4);
    assert.equal(engine.images.containerBuilds.length, 4);
  });
});
