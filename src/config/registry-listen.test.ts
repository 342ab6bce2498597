import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BerthError } from '../errors.js';
import { loadProject } from './project.js';
import { isLoopbackListen } from './ship-config.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(registry: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-listen-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'images', 'base'), { recursive: true });
  writeFileSync(join(dir, 'images', 'base', 'static.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'berth.yaml'), `project: listen\nimages:\n  base:\n    root: { suite: bookworm }\nregistry:\n${registry}`);
  return dir;
}

const load = (dir: string) => loadProject(dir, {}, dir);

function loadError(dir: string): BerthError {
  try {
    load(dir);
  } catch (error) {
    assert.ok(error instanceof BerthError);
    return error;
  }
  assert.fail('expected the project to be refused');
}

describe('registry.listen and TLS', () => {
  it('knows loopback addresses from those other machines reach', () => {
    assert.deepEqual(
      ['127.0.0.1:5000', '127.3.4.5:5000', 'localhost:5000', '0.0.0.0:5000', '10.0.0.2:5000', 'registry.lan:5000'].map(isLoopbackListen),
      [true, true, true, false, false, false],
    );
  });

  it('keeps a loopback listen without TLS or a password', () => {
    const p = load(project('  listen: 127.0.0.1:5000\n'));
    assert.equal(p.registry.listen, '127.0.0.1:5000');
    assert.equal(p.registry.tls, undefined);
  });

  it('refuses a LAN listen without htpasswd, username and password, with file, line, key and fix', () => {
    const e = loadError(project('  listen: 10.0.0.2:5000\n'));
    assert.equal(e.kind, 'invalid');
    assert.equal(e.message, 'berth.yaml:6: registry.listen: 10.0.0.2:5000 is reachable from other machines, so the registry needs TLS and a password, but htpasswd, username, password are missing');
    assert.match(e.fix!, /htpasswd -Bbc FILE NAME PASSWORD.*username: NAME.*password: \{ env: REGISTRY_PASSWORD \}.*or listen on 127\.0\.0\.1/);
  });

  it('names only what is missing', () => {
    const e = loadError(project('  listen: 0.0.0.0:5000\n  htpasswd: htpasswd\n  username: berth\n'));
    assert.match(e.message, /registry\.listen: 0\.0\.0\.0:5000 is reachable from other machines, so the registry needs TLS and a password, but password is missing$/);
  });

  it('generates TLS under the state dir for a LAN listen that names no certificate', () => {
    const dir = project('  listen: 10.0.0.2:5000\n  htpasswd: htpasswd\n  username: berth\n  password: { env: REGISTRY_PASSWORD }\n');
    const p = load(dir);
    const tls = join(p.stateDir, 'registry', 'tls');
    assert.deepEqual(p.registry.tls, { cert: join(tls, 'server.crt'), key: join(tls, 'server.key'), ca: join(tls, 'ca.crt'), generated: true });
  });

  it("uses the user's certificate (its CA defaults to the certificate itself), and tls: generate on loopback", () => {
    const dir = project('  listen: 10.0.0.2:5000\n  htpasswd: htpasswd\n  username: berth\n  password: { env: P }\n  tls: { cert: certs/r.crt, key: certs/r.key }\n');
    assert.deepEqual(load(dir).registry.tls, { cert: join(dir, 'certs/r.crt'), key: join(dir, 'certs/r.key'), ca: join(dir, 'certs/r.crt'), generated: false });
    assert.equal(load(project('  listen: 127.0.0.1:5000\n  tls: generate\n')).registry.tls?.generated, true);
  });

  it('refuses another word than generate for tls', () => {
    const e = loadError(project('  tls: yes-please\n'));
    assert.match(e.message, /registry\.tls: expected "generate" or a mapping \{ cert, key, ca \}, got the string "yes-please"/);
  });
});
