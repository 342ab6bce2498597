/**
 * `berth server` refusing bad start options, run as the shipped command (bin/berth.js, whose
 * server is a second bundle): invalid input exits 2 with Berth's message, never 70 ("a bug").
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runBerth } from '../../testing/cli.js';

describe('berth server refuses bad start options as invalid input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-server-refusals-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const server = (...args: string[]) => runBerth(['server', '--state', join(dir, 'state'), '--reconcile-interval', '0s', ...args], { env: { PATH: process.env.PATH, HOME: dir }, timeoutMs: 60_000 });

  it('a listen address other machines reach, without TLS: exit 2, saying why and how to fix it', async () => {
    const r = await server('--listen', '0.0.0.0:7878');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error \(invalid input\): --listen 0\.0\.0\.0:7878 is reachable from other machines, and without TLS tokens would cross the network in clear\n {2}fix: give the server a certificate/);
    assert.doesNotMatch(r.stderr, /bug/);
  });

  it('a --tls-cert file that does not exist: exit 2, naming it', async () => {
    const missing = join(dir, 'missing.pem');
    const r = await server('--listen', '127.0.0.1:0', '--tls-cert', missing, '--tls-key', missing);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error \\(invalid input\\): --tls-cert ${missing}: cannot read it \\(ENOENT\\)\\n {2}fix: name a PEM file`));
  });

  it('an --allow-read folder that does not exist: exit 2, naming it', async () => {
    const r = await server('--listen', '127.0.0.1:0', '--allow-read', join(dir, 'nowhere'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--allow-read .*nowhere: no such folder/);
  });
});
