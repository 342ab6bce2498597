/**
 * The test cluster itself: it runs as the `postgres` user on 127.0.0.1 only, takes a password
 * login, and leaves nothing behind — stopped and removed by `stop()`, and, when its test process
 * was killed outright, by the next start's sweep.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres, sweepClusters } from './postgres.js';

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a test PostgreSQL cluster', () => {
  it('logs in with its password only, on 127.0.0.1, and is gone after stop()', async () => {
    const cluster = await startPostgres();
    const rows = await cluster.query<{ user: string; address: string }>('postgres', "SELECT current_user AS user, setting AS address FROM pg_settings WHERE name = 'listen_addresses'");
    assert.deepEqual(rows, [{ user: 'berth', address: '127.0.0.1' }]);
    const wrong = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'berth', password: 'wrong', database: 'postgres' });
    await assert.rejects(wrong.connect(), /password authentication failed/);
    await wrong.end().catch(() => {});
    const folder = join(cluster.passwordFile, '..');
    await cluster.stop();
    assert.equal(await accepts(cluster.port), false);
    assert.equal(existsSync(folder), false);
  });

  it('a cluster whose test process was SIGKILLed is stopped and removed by the next sweep', async () => {
    const module = fileURLToPath(new URL('./postgres.js', import.meta.url));
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const { startPostgres } = await import(${JSON.stringify(module)}); const c = await startPostgres(); console.log(JSON.stringify({ port: c.port, file: c.passwordFile })); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let printed = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (printed += text));
    await until('the child started its cluster', () => printed.includes('\n'), 90_000);
    const { port, file } = JSON.parse(printed) as { port: number; file: string };
    const folder = join(file, '..');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.equal(await accepts(port), true, 'the cluster outlived its test process');
    // Another test file starting a cluster meanwhile sweeps it just as well.
    const swept = sweepClusters();
    assert.ok(swept.includes(folder) || !existsSync(folder), `${folder} was not swept`);
    await until('the swept cluster stopped listening', async () => !(await accepts(port)));
    assert.equal(existsSync(folder), false);
  });
});
