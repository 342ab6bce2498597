/**
 * Two `berth server` processes on one PostgreSQL database (a cluster this file starts): one leads,
 * the other follows and answers the whole API: `berth server status` through either names the same
 * leader; a change sent to the follower is made once, by the leader (one audit entry); the
 * follower's event stream carries the leader's events. The leader killed with SIGKILL: the other
 * takes the lease over once it runs out (a short --leader-ttl keeps the test short), with the next
 * epoch, and a CLI given both addresses (BERTH_SERVER=A,B) goes on through the one that answers.
 * A restarted, the database stopped for 20 s: the leader steps down, both servers answer 503 naming
 * the database; started again, exactly one of the two leads, with the next epoch, and takes changes,
 * and the event streams opened on both before the outage carry the events appended after it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServerStatus } from './status.js';
import { runBerth } from '../testing/cli.js';
import { postgresForFile } from '../testing/postgres.js';
import { collectEvents } from '../testing/event-stream.js';
import { startTestServer, type TestServer } from '../testing/server.js';

const cluster = postgresForFile();
const dir = mkdtempSync(join(tmpdir(), 'berth-ha-'));
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function statusThrough(env: NodeJS.ProcessEnv): Promise<ServerStatus> {
  const out = await runBerth(['server', 'status', '--json'], { env });
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as ServerStatus;
}

async function until<T>(what: string | (() => string), look: () => Promise<T | undefined>, forMs = 60_000): Promise<T> {
  const end = Date.now() + forMs;
  for (;;) {
    const seen = await look();
    if (seen !== undefined) return seen;
    if (Date.now() > end) assert.fail(`waited ${forMs / 1000} s for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('two servers on one PostgreSQL store', () => {
  it('one leads, the follower answers the same and hands changes to it; killed, the leader is replaced after its lease runs out', async () => {
    const url = await cluster().createDatabase('berth_ha');
    const env = { ...process.env, PGPASSWORD: '' };
    const args = ['--store', url, '--store-password-file', cluster().passwordFile, '--reconcile-interval', '0s', '--leader-ttl', '3s'];
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    const a = await startTestServer(join(dir, 'a'), env, args);
    servers.push(a);
    assert.match(a.output(), /leading \(epoch 1\)/);
    const b = await startTestServer(join(dir, 'b'), env, args);
    servers.push(b);
    const token = a.adminToken;
    const viaA = a.envFor(env, token);
    const viaB = b.envFor(env, token);

    // Both answer the same status: A leads with epoch 1, both seen, the store is PostgreSQL at the latest schema.
    const [fromA, fromB] = [await statusThrough(viaA), await statusThrough(viaB)];
    for (const status of [fromA, fromB]) {
      assert.equal(status.store.kind, 'postgres');
      assert.match(status.store.where, new RegExp(`PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/berth_ha`));
      assert.ok(status.store.schemaVersion >= 15);
      assert.equal(status.leader?.address, a.url);
      assert.equal(status.leader?.epoch, 1);
      assert.deepEqual(status.servers.map((s) => [s.address, s.leads]).sort(), [[a.url, true], [b.url, false]].sort());
    }
    const printed = await runBerth(['server', 'status'], { env: viaB });
    assert.match(printed.stdout, new RegExp(`leader: ${a.url.replace(/\./g, '\\.')} since .*, epoch 1, lease until`));

    // The follower's event stream carries what the leader publishes; a change sent to the follower is made once, by the leader.
    const stream = collectEvents(b.url, token);
    const created = await runBerth(['token', 'create', '--name', 'through-follower', '--role', 'viewer'], { env: viaB });
    assert.equal(created.code, 0, created.stderr);
    const audited = await cluster().query<{ n: string }>('berth_ha', `SELECT count(*) AS n FROM audit WHERE target LIKE '%through-follower%'`);
    assert.equal(Number(audited[0]!.n), 1, 'one audit entry: the leader recorded it, the follower did not');
    const again = await runBerth(['token', 'create', '--name', 'through-follower', '--role', 'viewer'], { env: viaB });
    assert.equal(again.code, 4, `the leader's own answer (a conflict): ${again.stderr}`);
    await until('the audit event on the follower\'s stream', async () => (stream.events.some((e) => e.event === 'audit' && e.data.includes('through-follower')) ? true : undefined));
    stream.stop();

    // kill -9 the leader: B takes over with epoch 2 once A's lease ran out; a CLI given both goes through B.
    await a.kill();
    const both = { ...viaA, BERTH_SERVER: `${a.url},${b.url}` };
    const after = await until('B to lead', async () => {
      const status = await statusThrough(both);
      return status.leader?.address === b.url && !status.leader.expired ? status : undefined;
    });
    assert.equal(after.leader?.epoch, 2);
    assert.match(b.output(), /leading \(epoch 2\)/);
    const createdAfter = await runBerth(['token', 'create', '--name', 'after-takeover', '--role', 'viewer'], { env: both });
    assert.equal(createdAfter.code, 0, createdAfter.stderr);
    const names = (await cluster().query<{ name: string }>('berth_ha', 'SELECT name FROM tokens ORDER BY id')).map((r) => r.name);
    assert.deepEqual(names, ['admin', 'through-follower', 'after-takeover']);

    // A restarted: two servers again, B leading, A following (B's lease has not run out).
    await a.start();
    const two = await statusThrough(viaA);
    assert.deepEqual([two.leader?.address, two.leader?.epoch], [b.url, 2]);

    // The database goes away for 20 s: the leader steps down in time, both servers answer 503 naming the database;
    // back, exactly one of the two leads, with the next epoch.
    // Both servers' event streams, answered before the outage: each server's LISTEN connection is lost with the database.
    const across = [a, b].map((server) => collectEvents(server.url, token));
    assert.deepEqual(await Promise.all(across.map((stream) => stream.opened)), [200, 200], 'both streams open before the database stops');
    const outage = Date.now();
    await cluster().pause();
    await until(() => `B to step down; printed:\n--- A\n${a.output()}\n--- B\n${b.output()}`, async () => (/stepped down \(epoch 2\)/.test(b.output()) ? true : undefined));
    for (const via of [viaA, viaB]) {
      const away = await runBerth(['server', 'status'], { env: via });
      const printed = `\nprinted:\n--- A\n${a.output()}\n--- B\n${b.output()}`;
      assert.equal(away.code, 5, away.stderr + printed);
      assert.match(away.stderr, new RegExp(`PostgreSQL berth@127\\.0\\.0\\.1:${cluster().port}/berth_ha does not answer`), printed);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, outage + 20_000 - Date.now())));
    await cluster().resume();
    const back = await until('a leader again', async () => {
      const status = await statusThrough(viaB).catch(() => undefined);
      return status?.leader && !status.leader.expired ? status : undefined;
    });
    assert.equal(back.leader?.epoch, 3, 'the next epoch: nobody led under epoch 2 after the step-down');
    const leaders = [a, b].filter((s) => /leading \(epoch 3\)/.test(s.output()));
    assert.equal(leaders.length, 1, `exactly one server leads again:\n${a.output()}\n---\n${b.output()}`);
    for (const via of [viaA, viaB]) {
      const status = await statusThrough(via);
      assert.deepEqual([status.leader?.address, status.leader?.epoch], [leaders[0]!.url, 3]);
      assert.deepEqual(status.servers.filter((s) => s.leads).map((s) => s.address), [leaders[0]!.url]);
    }
    // The one that leads takes changes again; the other hands them to it.
    const afterOutage = await runBerth(['token', 'create', '--name', 'after-outage', '--role', 'viewer'], { env: viaA });
    assert.equal(afterOutage.code, 0, afterOutage.stderr);
    const named = (await cluster().query<{ name: string }>('berth_ha', 'SELECT name FROM tokens ORDER BY id')).map((r) => r.name);
    assert.deepEqual(named, ['admin', 'through-follower', 'after-takeover', 'after-outage']);
    // Both streams, the leader's and the follower's, carry the event the leader appended after the database came back.
    const carried = () => across.map((stream) => stream.events.filter((e) => e.event === 'audit' && e.data.includes('after-outage')).length);
    await until(
      () => `the after-outage audit event on both streams (times carried by A, B: ${carried().join(', ')}); printed:\n--- A\n${a.output()}\n--- B\n${b.output()}`,
      async () => (carried().every((n) => n > 0) ? true : undefined),
    );
    assert.deepEqual(carried(), [1, 1], 'once on each stream');
    for (const stream of across) stream.stop();
  });
});
