import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureCertificates } from '../../registry/certificates.js';
import { main } from '../main.js';
import type { Output } from '../output.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-registry-cli-'));
mkdirSync(join(dir, 'images/base'), { recursive: true });
writeFileSync(join(dir, 'images/base/static.sh'), '#!/bin/sh\n');
chmodSync(join(dir, 'images/base/static.sh'), 0o755);
writeFileSync(join(dir, 'berth.yaml'), 'project: registry-cli\nimages:\n  base:\n    root: { suite: bookworm }\nregistry:\n  listen: 127.0.0.1:9\n');
after(() => rmSync(dir, { recursive: true, force: true }));

async function berth(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = await main([...args, '-p', dir], output, { PATH: process.env.PATH }, dir);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('berth registry (CLI)', () => {
  it('rejects a missing or unknown action with the usage', async () => {
    const none = await berth('registry');
    assert.equal(none.code, 2);
    assert.match(none.err, /name an action\n  fix: usage: berth registry up\|down\|status/);
    const unknown = await berth('registry', 'start');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown action "start"/);
    assert.match((await berth('registry', 'status', '--dry-run')).err, /--dry-run applies to "berth registry gc" only/);
  });

  it('reports a stopped registry with exit 5 and how to start it', async () => {
    const status = await berth('registry', 'status');
    assert.equal(status.code, 5);
    assert.match(status.out, /state +stopped/);
    assert.match(status.out, /Start it with "berth registry up"\./);
    const json = await berth('registry', 'status', '--json');
    const parsed = JSON.parse(json.out) as { running: boolean; mode: string; address: string };
    assert.deepEqual([parsed.running, parsed.mode, parsed.address], [false, 'stopped', '127.0.0.1:9']);
  });

  it('says "not running" for down when nothing runs', async () => {
    assert.deepEqual(await berth('registry', 'down'), { code: 0, out: 'the registry was not running', err: '' });
  });
});

describe('berth registry ca', () => {
  it('says there is no CA without TLS', async () => {
    const r = await berth('registry', 'ca');
    assert.equal(r.code, 3);
    assert.match(r.err, /the registry serves no TLS, so it has no CA/);
  });

  it("prints the generated CA's PEM once it exists, and says to run up before", async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'berth-registry-ca-'));
    try {
      writeFileSync(join(tlsDir, 'berth.yaml'), 'project: registry-ca\nimages:\n  base:\n    root: { suite: bookworm }\nregistry:\n  listen: 127.0.0.1:9\n  tls: generate\n');
      mkdirSync(join(tlsDir, 'images/base'), { recursive: true });
      writeFileSync(join(tlsDir, 'images/base/static.sh'), '#!/bin/sh\n', { mode: 0o755 });
      const ca = async () => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(['registry', 'ca', '-p', tlsDir], { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => err.push(t) }, { PATH: process.env.PATH }, tlsDir);
        return { code, out: out.join('\n'), err: err.join('\n') };
      };
      const before = await ca();
      assert.equal(before.code, 3);
      assert.match(before.err, /does not exist yet\n  fix: run "berth registry up" once: it makes the CA/);
      await ensureCertificates(join(tlsDir, '.berth', 'registry', 'tls', 'server.crt'), '127.0.0.1:9');
      const after = await ca();
      assert.equal(after.code, 0);
      assert.match(after.out, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----$/);
    } finally {
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});
