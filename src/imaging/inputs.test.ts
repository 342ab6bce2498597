import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ImageSpec } from '../config/model.js';
import { APP_PREFIX, canonicalSettings, fileFingerprints, scanImageFiles, sha256 } from './inputs.js';

describe('scanImageFiles and canonicalSettings', () => {
  let dir: string;
  let spec: ImageSpec;

  const write = (relative: string, content: string, mode = 0o644) => {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
  };
  const fingerprints = () => fileFingerprints(scanImageFiles(spec));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-inputs-test-'));
    write('images/web/static.sh', '#!/bin/sh\necho hi\n', 0o755);
    write('images/web/runtime.sh', '#!/bin/sh\n', 0o755);
    write('images/web/image.yaml', 'from: base\n');
    write('images/web/static/etc/web.conf', 'port=80\n');
    write('app/server.js', 'console.log(1)\n');
    write('app/lib/util.js', 'export {}\n');
    spec = {
      name: 'web',
      dir: join(dir, 'images/web'),
      settingsFile: 'images/web/image.yaml',
      hasRuntime: true,
      hasStatic: true,
      from: 'base',
      env: { B: '2', A: '1' },
      labels: {},
      ports: ['8080'],
      workdir: '/srv/app',
      app: { path: join(dir, 'app'), dest: '/srv/app' },
      command: ['node', 'server.js'],
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the folder files (not image.yaml) and the app files under @app/, sorted', () => {
    assert.deepEqual(
      scanImageFiles(spec).map((f) => f.rel),
      [`${APP_PREFIX}/lib/util.js`, `${APP_PREFIX}/server.js`, 'runtime.sh', 'static.sh', 'static/etc/web.conf'],
    );
  });

  it('fingerprints a file as <mode>:<sha256 of its bytes>', () => {
    const files = fingerprints();
    assert.equal(files['static.sh'], `755:${sha256('#!/bin/sh\necho hi\n')}`);
    assert.equal(files['static/etc/web.conf'], `644:${sha256('port=80\n')}`);
    assert.equal(files['@app/server.js'], `644:${sha256('console.log(1)\n')}`);
  });

  it('ignores mtimes', () => {
    const before = fingerprints();
    const past = new Date('2001-02-03T04:05:06Z');
    utimesSync(join(dir, 'images/web/static/etc/web.conf'), past, past);
    utimesSync(join(dir, 'app/server.js'), past, past);
    assert.deepEqual(fingerprints(), before);
  });

  it('keeps the executable bit, and only that', () => {
    const conf = join(dir, 'images/web/static/etc/web.conf');
    const before = fingerprints()['static/etc/web.conf'];
    try {
      chmodSync(conf, 0o600);
      assert.equal(fingerprints()['static/etc/web.conf'], before, 'read/write bits do not count');
      chmodSync(conf, 0o744);
      const after = fingerprints()['static/etc/web.conf']!;
      assert.notEqual(after, before);
      assert.equal(after, `755:${before!.split(':')[1]}`);
    } finally {
      chmodSync(conf, 0o644);
    }
  });

  it('does not hash image.yaml as a file', () => {
    const before = fingerprints();
    write('images/web/image.yaml', '# a comment\nfrom: base\n');
    assert.deepEqual(fingerprints(), before);
    assert.equal(before['image.yaml'], undefined);
  });

  it('lists a single-file app under its own name', () => {
    const single: ImageSpec = { ...spec, app: { path: join(dir, 'app/server.js'), dest: '/srv/app' } };
    const rels = scanImageFiles(single).map((f) => f.rel);
    assert.ok(rels.includes('@app/server.js'), rels.join(', '));
    assert.ok(!rels.some((r) => r.includes('util.js')));
  });

  it('keeps settings free of host paths, with env keys sorted', () => {
    const settings = canonicalSettings(spec);
    assert.deepEqual(settings, {
      env: { A: '1', B: '2' },
      labels: {},
      ports: ['8080'],
      from: 'base',
      workdir: '/srv/app',
      command: ['node', 'server.js'],
      app: { path: '(hashed as files)', dest: '/srv/app' },
    });
    assert.deepEqual(Object.keys(settings.env), ['A', 'B']);
    const json = JSON.stringify(settings);
    assert.ok(!json.includes(dir), json);
    assert.ok(!json.includes(tmpdir()), json);
  });

  it('leaves out the root spec and its tarball path', () => {
    const root: ImageSpec = { ...spec, from: undefined, root: { kind: 'tarball', path: join(dir, 'root.tar') } };
    delete root.from;
    delete root.app;
    const json = JSON.stringify(canonicalSettings(root));
    assert.ok(!json.includes(dir), json);
    assert.ok(!('root' in canonicalSettings(root)));
  });
});
