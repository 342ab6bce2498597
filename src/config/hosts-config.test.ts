/** `hosts:` and `fleet:` as loadProject checks them: TLS files, insecure, labels, ssh://. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { loadProject } from './project.js';
import { engineSocketOn } from './hosts-config.js';
import { loadForTest, problemsOf } from './problems-for-test.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A one-image project with `rest` appended to berth.yaml and the given files. */
function project(rest: string, files: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hosts-config-test-'));
  dirs.push(dir);
  const write = (relative: string, content: string) => {
    mkdirSync(dirname(join(dir, relative)), { recursive: true });
    writeFileSync(join(dir, relative), content, { mode: 0o755 });
  };
  write('berth.yaml', `project: shop\nimages:\n  base:\n    root: {}\n${rest}`);
  write('images/base/static.sh', '#!/bin/sh\n');
  for (const file of files) write(file, 'pem\n');
  return dir;
}

const load = loadForTest;
const CERTS = ['certs/ca.pem', 'certs/cert.pem', 'certs/key.pem'];


describe('hosts: reaching the engines', () => {
  it("resolves a host's TLS files against berth.yaml's folder and keeps its labels as strings", () => {
    const dir = project('hosts:\n  - name: h1\n    engine: tcp://10.0.0.2:2376\n    tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\n    labels: { rack: r1, tier: 2 }\n', CERTS);
    assert.deepEqual(load(dir).hosts, [
      {
        name: 'h1',
        engine: 'tcp://10.0.0.2:2376',
        tls: { ca: join(dir, 'certs/ca.pem'), cert: join(dir, 'certs/cert.pem'), key: join(dir, 'certs/key.pem') },
        insecure: false,
        labels: { rack: 'r1', tier: '2' },
      },
    ]);
  });

  it("gives fleet.tls to tcp:// hosts without their own, and not to local sockets", () => {
    const dir = project(
      'fleet:\n  tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\nhosts:\n  - { name: local, engine: "unix:///var/run/docker.sock" }\n  - { name: h2, engine: "tcp://10.0.0.3:2376" }\n  - { name: h3, engine: "tcp://10.0.0.4:2376", tls: { ca: own/ca.pem, cert: own/cert.pem, key: own/key.pem } }\n',
      [...CERTS, 'own/ca.pem', 'own/cert.pem', 'own/key.pem'],
    );
    const hosts = load(dir).hosts;
    assert.deepEqual(
      hosts.map((h) => [h.name, h.tls?.ca]),
      [
        ['local', undefined],
        ['h2', join(dir, 'certs/ca.pem')],
        ['h3', join(dir, 'own/ca.pem')],
      ],
    );
  });

  it('allows plain tcp:// only where insecure: true is written, even with fleet.tls', () => {
    const dir = project('fleet:\n  tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\nhosts:\n  - { name: lab, engine: "tcp://10.0.0.9:2375", insecure: true }\n', CERTS);
    assert.deepEqual(load(dir).hosts, [{ name: 'lab', engine: 'tcp://10.0.0.9:2375', insecure: true, labels: {} }]);
  });

  it('refuses tcp:// without TLS with the file, line, key and the fix', () => {
    assert.deepEqual(problemsOf(project('hosts:\n  - name: h1\n    engine: tcp://10.0.0.2:2375\n')), [
      {
        message: 'berth.yaml:7: hosts[0].engine: tcp://10.0.0.2:2375 without TLS: anyone who can reach that port is root on the host',
        fix: 'give the host "tls: { ca, cert, key }" (or all hosts "fleet: { tls: ... }"; dockerd --tlsverify on the host), or write "insecure: true" for this host to accept that',
      },
    ]);
  });

  it('names each missing TLS file', () => {
    const messages = problemsOf(project('hosts:\n  - name: h1\n    engine: tcp://10.0.0.2:2376\n    tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\n', ['certs/ca.pem'])).map((p) => p.message);
    assert.equal(messages.length, 2);
    assert.match(messages[0]!, /^berth\.yaml:8: hosts\[0\]\.tls\.cert: no such file: .*\/certs\/cert\.pem$/);
    assert.match(messages[1]!, /^berth\.yaml:8: hosts\[0\]\.tls\.key: no such file: .*\/certs\/key\.pem$/);
  });

  it('names a missing fleet TLS file', () => {
    const messages = problemsOf(project('fleet:\n  tls: { ca: nope.pem, cert: certs/cert.pem, key: certs/key.pem }\nhosts:\n  - { name: h1, engine: "tcp://10.0.0.2:2376" }\n', CERTS)).map((p) => p.message);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /^berth\.yaml:6: fleet\.tls\.ca: no such file: .*\/nope\.pem$/);
  });

  it("keeps a host's engine socket (what its warden mounts); engineSocketOn falls back to a unix:// engine's path, then Docker's default", () => {
    const dir = project(
      'fleet:\n  tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\nhosts:\n  - { name: h1, engine: "tcp://10.0.0.2:2376", socket: /run/lab-h1/docker.sock }\n  - { name: h2, engine: "tcp://10.0.0.3:2376" }\n  - { name: h3, engine: "unix:///run/other/docker.sock" }\n',
      CERTS,
    );
    const hosts = load(dir).hosts;
    assert.equal(hosts[0]!.socket, '/run/lab-h1/docker.sock');
    assert.equal('socket' in hosts[1]!, false, 'unset stays unset');
    assert.deepEqual(hosts.map(engineSocketOn), ['/run/lab-h1/docker.sock', '/var/run/docker.sock', '/run/other/docker.sock']);
  });

  it('refuses a socket that is not an absolute path on the host, with file, line and key', () => {
    const messages = problemsOf(project('hosts:\n  - { name: a, socket: run/docker.sock }\n  - { name: b, socket: "unix:///var/run/docker.sock" }\n  - { name: c, socket: /var/run/../docker.sock }\n')).map((p) => p.message);
    assert.deepEqual(messages.length, 3);
    assert.match(messages[0]!, /^berth\.yaml:6: hosts\[0\]\.socket: "run\/docker\.sock" is not an absolute path of the engine's unix socket on that host/);
    assert.match(messages[1]!, /^berth\.yaml:7: hosts\[1\]\.socket: "unix:\/\/\/var\/run\/docker\.sock" is not an absolute path/);
    assert.match(messages[2]!, /^berth\.yaml:8: hosts\[2\]\.socket: /);
  });

  it('refuses ssh:// for now, saying what to use instead', () => {
    assert.deepEqual(problemsOf(project('hosts:\n  - { name: h1, engine: "ssh://root@10.0.0.2" }\n')), [
      {
        message: 'berth.yaml:6: hosts[0].engine: ssh:// engines are not supported yet ("ssh://root@10.0.0.2")',
        fix: 'run dockerd with --tlsverify on tcp://<host>:2376 and give the host "tls: { ca, cert, key }" (see docs/hosts.md)',
      },
    ]);
  });

  it('refuses tls on a local socket, a TLS key missing, and insecure with tls', () => {
    const messages = problemsOf(
      project(
        'hosts:\n  - { name: a, tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem } }\n  - { name: b, engine: "tcp://10.0.0.3:2376", tls: { ca: certs/ca.pem, cert: certs/cert.pem } }\n  - { name: c, engine: "tcp://10.0.0.4:2376", insecure: true, tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem } }\n',
        CERTS,
      ),
    ).map((p) => p.message);
    assert.deepEqual(messages, [
      'berth.yaml:7: hosts[1].tls.key: missing required key "key"',
      'berth.yaml:6: hosts[0].tls: "tls" is for tcp:// engines; unix:///var/run/docker.sock is a local socket',
      'berth.yaml:8: hosts[2].insecure: "insecure: true" and "tls" contradict each other',
    ]);
  });

  it('refuses labels that are not a mapping of names to values', () => {
    assert.deepEqual(
      problemsOf(project('hosts:\n  - { name: a, labels: [rack] }\n')).map((p) => p.message),
      ['berth.yaml:6: hosts[0].labels: expected a mapping, got a list'],
    );
  });

  it('without hosts: one local host from DOCKER_HOST, insecure only for plain tcp://', () => {
    const dir = project('');
    assert.deepEqual(loadProject(dir, {}, dir).hosts, [{ name: 'local', engine: 'unix:///var/run/docker.sock', insecure: false, labels: {} }]);
    assert.deepEqual(loadProject(dir, { DOCKER_HOST: 'tcp://10.0.0.2:2375' }, dir).hosts, [{ name: 'local', engine: 'tcp://10.0.0.2:2375', insecure: true, labels: {} }]);
    assert.deepEqual(loadProject(dir, { DOCKER_HOST: 'tcp://10.0.0.2:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, dir).hosts, [
      { name: 'local', engine: 'tcp://10.0.0.2:2376', tls: { ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' }, insecure: false, labels: {} },
    ]);
  });
});
