/**
 * Integration: an image made in one container (the default) is the image the classic
 * builder makes from Berth's Dockerfile: the same files (paths, types, modes, owners, bytes,
 * link targets) and the same configuration, on a tree with everything a recipe can hold.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { loadProject } from '../config/project.js';
import { readBuffer } from '../engine/http.js';
import { closeStore, openStore } from '../store/db.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { buildProject, type BuildMethod, type BuildSummary } from './builder.js';
import { BUILD_ARGS_FILE } from './recipe.js';

const SECRET = 's3cret-proxy-password';

async function build(fixture: Fixture, method: BuildMethod): Promise<BuildSummary> {
  const project = loadProject(fixture.dir, fixture.env);
  const db = await openStore(project.stateDir);
  try {
    return await buildProject(project, fixture.engine, db, { env: fixture.env, method });
  } finally {
    await closeStore(db);
  }
}

type Entry = { type: string; mode: number; uid: number; gid: number; link: string; sha256: string };

/** The image's filesystem as a container made from it sees it, without times. */
async function filesystem(fixture: Fixture, image: string): Promise<Map<string, Entry>> {
  const { Id: id } = await fixture.raw.json<{ Id: string }>('POST', '/containers/create', { body: { Image: image, Entrypoint: ['/bin/true'], Labels: { 'berth.project': fixture.name } } });
  try {
    const tar = await readBuffer(await fixture.raw.call('GET', `/containers/${id}/export`));
    const entries = new Map<string, Entry>();
    await new Promise<void>((resolve, reject) => {
      const reader = extract();
      reader.on('entry', (header, stream, next) => {
        const hash = createHash('sha256');
        stream.on('data', (chunk: unknown) => void hash.update(chunk as Buffer));
        stream.on('end', () => {
          entries.set(header.name.replace(/\/$/, ''), { type: header.type ?? 'file', mode: header.mode ?? 0, uid: header.uid ?? 0, gid: header.gid ?? 0, link: header.linkname ?? '', sha256: hash.digest('hex') });
          next();
        });
        stream.resume();
      });
      reader.on('finish', resolve);
      reader.on('error', reject);
      reader.end(tar);
    });
    return entries;
  } finally {
    await fixture.raw.empty('DELETE', `/containers/${id}`, { query: { force: true } });
  }
}

type Config = Record<string, unknown> & { Labels: Record<string, string> };

async function config(fixture: Fixture, image: string): Promise<Config> {
  const inspect = await fixture.raw.json<{ Config: Config }>('GET', `/images/${encodeURIComponent(image)}/json`);
  const { Hostname: _h, Image: _i, ...rest } = inspect.Config;
  // The creation time is the build's own; a child's key and base name follow its parent's image ID, which differs between two builds.
  const { 'org.opencontainers.image.created': _created, 'berth.key': _key, 'org.opencontainers.image.base.name': base, ...labels } = rest.Labels;
  labels['base.name'] = base!.replace(/:[0-9a-f]{12}$/, '');
  return { ...rest, Labels: labels };
}

describe('an image made in one container equals the classic builder\'s', () => {
  let fixture: Fixture;
  const classic = new Map<string, string>();
  const container = new Map<string, string>();

  before(async () => {
    const root = await tinyRootTarball();
    fixture = await makeFixture(
      {
        base: {
          settings: { root: { tarball: root }, env: { QUOTED: 'a "b" $HOME \\ c', PATH: '/usr/bin:/bin' }, labels: { team: 'core' }, ports: ['53/udp'] },
          static: '#!/bin/sh\necho "$BERTH_MIRROR" > /mirror.txt\n[ -n "$http_proxy" ] && echo set > /proxy.txt\nmkdir -p /var/lib/base\nchmod 0700 /var/lib/base\n',
          runtime: '#!/bin/sh\necho base runtime\n',
          files: { 'static/etc/base.conf': 'x=1\n', 'static/usr/local/bin/tool': '#!/bin/sh\n', 'notes.txt': 'kept under /opt/berth\n' },
        },
        jdk: {
          settings: { from: 'base', env: { JAVA_HOME: '/opt/jdk', PATH: '/opt/jdk/bin:/usr/bin:/bin' }, workdir: '/srv/app', user: 'app', ports: [8080] },
          static: '#!/bin/sh\necho "$QUOTED" > /quoted.txt\nrm /etc/base.conf\nln -s /opt/jdk /jdk\n',
          files: { 'static/etc/jdk/jdk.conf': 'y=2\n' },
        },
        shop: {
          settings: { from: 'jdk', command: ['sleep', '1'], labels: { team: 'shop', tier: 'web' } },
          runtime: '#!/bin/sh\necho shop runtime\n',
        },
        worker: { settings: { from: 'jdk', workdir: '/' } },
      },
      { build: { mirror: 'http://mirror.invalid/debian', proxy: { http: `http://user:${SECRET}@127.0.0.1:9/` } } },
    );
    const first = await build(fixture, 'dockerfile');
    assert.deepEqual(first.failed, []);
    // Keep the classic images under a tag of their own and drop the Berth tags, so the second build finds nothing built.
    for (const image of first.built) {
      await fixture.engine.images.tag(image.imageId, `${fixture.name}-classic/${image.name}`, '1');
      await fixture.engine.images.remove(image.tag);
      classic.set(image.name, `${fixture.name}-classic/${image.name}:1`);
    }
    const second = await build(fixture, 'container');
    assert.deepEqual(second.failed, []);
    assert.equal(second.built.length, 4, 'the second build made every image again');
    for (const image of second.built) container.set(image.name, image.tag);
  });
  after(() => fixture.cleanup());

  for (const name of ['base', 'jdk', 'shop', 'worker']) {
    it(`${name}: the same files and configuration`, async () => {
      const [old, made] = [classic.get(name)!, container.get(name)!];
      assert.deepEqual(await config(fixture, made), await config(fixture, old));
      const [oldFiles, newFiles] = [await filesystem(fixture, old), await filesystem(fixture, made)];
      assert.ok(newFiles.has(`opt/berth/images/${name}/static.sh`) && newFiles.has('mirror.txt'), 'the export holds the built files');
      assert.equal(newFiles.has(BUILD_ARGS_FILE.slice(1)), false, 'the build arguments file is gone');
      const differ = [...new Set([...oldFiles.keys(), ...newFiles.keys()])].filter((path) => JSON.stringify(oldFiles.get(path)) !== JSON.stringify(newFiles.get(path)));
      assert.deepEqual(differ.map((path) => ({ path, classic: oldFiles.get(path), container: newFiles.get(path) })), []);
    });
  }

  it('static.sh saw the mirror and the proxy, and the proxy\'s password is nowhere in the images', async () => {
    const files = await filesystem(fixture, container.get('base')!);
    assert.equal(files.get('mirror.txt')!.sha256, createHash('sha256').update('http://mirror.invalid/debian\n').digest('hex'));
    assert.ok(files.has('proxy.txt'));
    for (const image of container.values()) {
      const inspect = JSON.stringify(await fixture.raw.json('GET', `/images/${encodeURIComponent(image)}/json`));
      const history = JSON.stringify(await fixture.raw.json('GET', `/images/${encodeURIComponent(image)}/history`));
      assert.ok(!inspect.includes(SECRET) && !history.includes(SECRET), `${image} does not show the proxy password`);
    }
  });
});
