import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLoopback, serverTarget } from './target.js';

describe('which server the CLI talks to, and with which token', () => {
  const home = mkdtempSync(join(tmpdir(), 'berth-target-test-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const config = (text: string) => {
    mkdirSync(join(home, '.config', 'berth'), { recursive: true });
    writeFileSync(join(home, '.config', 'berth', 'config.yaml'), text);
  };

  it('loopback is an address of 127/8, ::1 or localhost; a name that starts with "127." is not', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopback(host), true, host);
    for (const host of ['127.evil.example', '10.0.0.1', '127.0.0.1.nip.io', 'example.com']) assert.equal(isLoopback(host), false, host);
  });

  it('refuses plain http to anything but loopback, naming the fix', () => {
    assert.throws(() => serverTarget('http://127.evil.example:7878', { HOME: home }), /not on this machine, and plain http would send the token in clear/);
    assert.equal(serverTarget('https://berth.example:7878', { HOME: home })?.url.host, 'berth.example:7878');
  });

  it("the config file's token goes to the server the file names, never to another one", () => {
    config('server: http://127.0.0.1:7878\ntoken: berth_from_file\n');
    assert.equal(serverTarget(undefined, { HOME: home })?.token, 'berth_from_file');
    assert.equal(serverTarget(undefined, { HOME: home, BERTH_SERVER: 'http://127.0.0.1:7878/' })?.token, 'berth_from_file');
    assert.equal(serverTarget('https://other.example:7878', { HOME: home })?.token, undefined);
    assert.equal(serverTarget(undefined, { HOME: home, BERTH_SERVER: 'https://other.example:7878' })?.token, undefined);
    assert.equal(serverTarget('https://other.example:7878', { HOME: home, BERTH_TOKEN: 'berth_env' })?.token, 'berth_env');
    config('token: berth_any\n');
    assert.equal(serverTarget('https://other.example:7878', { HOME: home })?.token, 'berth_any');
  });

  it('no server named: in-process', () => {
    config('');
    assert.equal(serverTarget(undefined, { HOME: home }), undefined);
  });
});
