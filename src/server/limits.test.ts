/**
 * The server under hostile input, on a real server on loopback with a real
 * store (no engine needed): bodies over their route's limit refused 413 before
 * they are read, with a bounded audit entry; requests without a token rate
 * limited per source and coalesced in the log; a mutation refused 503 when the
 * audit head cannot be written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { verifyAuditLog } from '../access/audit.js';
import { AUDIT_HEAD_FILE } from '../access/audit-head.js';
import { bootstrapAdmin, createToken } from '../access/tokens.js';
import { main } from '../cli/main.js';
import { auditRows, type AuditRow } from '../store/audit.js';
import { closeStore, openStore, STORE_FILE, type Store } from '../store/db.js';
import { until } from '../testing/until.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';
import { startServer } from './main.js';
import { JSON_BODY_LIMIT, UNAUTHENTICATED_PER_MINUTE } from './limits.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

const BERTH_YAML = `project: limits-test
images:
  base:
    root: {}
services:
  web:
    image: base
    ports: [8080]
environments:
  dev: {}
`;

describe('the server under hostile input', () => {
  let dir: string;
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  let port: number;
  let admin: string;
  let viewer: string;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const start = async () => {
    core = new ServerCore(dir, db, {});
    app = await buildApp(core);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-limits-test-'));
    db = await openStore(dir);
    admin = (await bootstrapAdmin(db))!.token;
    viewer = (await createToken(db, { name: 'eyes', role: 'viewer', createdBy: 'test' })).token;
    await start();
  });
  after(async () => {
    agent.destroy();
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A request whose body is written in `chunks`, stopping as soon as the
   * answer comes (a refused client need not send the rest); `hold`: after the
   * chunks, send nothing more and wait for the answer.
   */
  function request(method: string, path: string, options: { token?: string; headers?: Record<string, string>; body?: string; chunks?: () => Iterable<Buffer>; hold?: boolean } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = http.request({ host: '127.0.0.1', port, method, path, agent: options.chunks ? false : agent, headers: { ...(options.body !== undefined || options.chunks ? { 'content-type': 'application/json' } : {}), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers } }, (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : {} });
        });
      });
      // The server closes a refused upload's connection: writing on is an error the answer already explains.
      req.on('error', (error) => (answered ? undefined : reject(error)));
      if (!options.chunks) return void req.end(options.body);
      const chunks = options.chunks()[Symbol.iterator]();
      const next = (): void => {
        if (answered || req.destroyed) return;
        const chunk = chunks.next();
        if (chunk.done) return void (options.hold ? undefined : req.end());
        if (req.write(chunk.value)) setImmediate(next);
        else req.once('drain', next);
      };
      next();
    });
  }

  const storeBytes = () => [STORE_FILE, `${STORE_FILE}-wal`].reduce((sum, name) => sum + (existsSync(join(dir, name)) ? statSync(join(dir, name)).size : 0), 0);
  const newest = async (): Promise<AuditRow | undefined> => (await auditRows(db, { limit: 1 }))[0];
  const THIRTY_MB = 30 * 1024 * 1024;

  // (The timeout only turns a server that waits for the body into a failure instead of a hang.)
  it("answers a viewer's 30 MB body 413 in Berth's shape before reading it, and logs only its size", { timeout: 120_000 }, async () => {
    const grown = storeBytes();
    const before = (await newest())?.seq ?? 0;
    // The Content-Length says 30 MB; the client sends the first 64 KiB and then waits: a server that waited for the body would never answer.
    const answer = await request('POST', '/v1/services/web/releases', {
      token: viewer,
      headers: { 'content-length': String(THIRTY_MB) },
      chunks: () => [Buffer.from('{"environment":"'), Buffer.alloc(JSON_BODY_LIMIT, 'x')],
      hold: true,
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.kind, 'invalid');
    assert.equal(answer.body.error.message, 'the body of POST /v1/services/:service/releases is over its limit of 64 KiB (65536 bytes): refused, and read no further');
    assert.match(answer.body.error.fix, /at most 64 KiB/);

    const entry = (await newest())!;
    assert.equal(entry.seq, before + 1);
    assert.equal(entry.actor, 'eyes');
    assert.deepEqual(entry.params, { body: `<${THIRTY_MB} bytes, not read: over the limit of ${JSON_BODY_LIMIT}>` });
    assert.match(entry.outcome, /^refused 413 the body of POST/);
    const published = (await core.events.after(0)).filter((e) => e.type === 'audit').at(-1)!;
    assert.deepEqual((published.data as { params: unknown }).params, entry.params);
    assert.ok(storeBytes() - grown < 1024 * 1024, `the store grew by ${storeBytes() - grown} bytes`);
  });

  it('cuts a chunked body at the limit, 413', async () => {
    const grown = storeBytes();
    const answer = await request('POST', '/v1/services/web/scale', {
      token: viewer,
      chunks: function* () {
        yield Buffer.from('{"environment":"');
        for (let sent = 0; sent < THIRTY_MB; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 'x');
      },
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.kind, 'invalid');
    assert.deepEqual((await newest())!.params, { body: `<more than ${JSON_BODY_LIMIT} bytes, not read>` });
    assert.ok(storeBytes() - grown < 1024 * 1024, `the store grew by ${storeBytes() - grown} bytes`);
  });

  it('keeps a field under the limit but long as its start and its size, in the entry and its event', async () => {
    const environment = 'e'.repeat(60_000);
    const answer = await request('POST', '/v1/services/web/releases', { token: viewer, body: JSON.stringify({ environment }) });
    assert.equal(answer.status, 403);
    const entry = (await newest())!;
    assert.equal(entry.params.environment, `${'e'.repeat(128)}… <60000 bytes, cut>`);
    assert.ok(JSON.stringify(entry).length < 2000, `${JSON.stringify(entry).length} characters`);
    const published = (await core.events.after(0)).filter((e) => e.type === 'audit').at(-1)!;
    assert.ok(JSON.stringify(published.data).length < 2000);
  });

  it('takes a large configuration on its own route (its limit is the bundle\'s)', async () => {
    const files = { 'berth.yaml': Buffer.from(BERTH_YAML).toString('base64'), 'images/base/static.sh': Buffer.from('#!/bin/sh\n').toString('base64'), 'data/large.txt': Buffer.alloc(512 * 1024, 'd').toString('base64') };
    const answer = await request('POST', '/v1/config', { token: admin, body: JSON.stringify({ files, executable: ['images/base/static.sh'] }) });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual((await newest())!.params.files, ['berth.yaml', 'data/large.txt', 'images/base/static.sh']);
  });

  it('limits requests without a valid token per source address (429, Retry-After) and coalesces their entries, each refusal counted', async () => {
    const before = (await newest())!.seq;
    const statuses = new Map<number, number>();
    const paths = ['/v1/services/web/releases', '/v1/tokens', '/v1/nothing-here'];
    let limited: Answer | undefined;
    const total = 2000;
    const started = Date.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < total) {
          const n = sent++;
          const answer = await request('POST', paths[n % paths.length]!, { ...(n % 2 ? { token: 'berth_not-a-token' } : {}), body: '{}' });
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status === 429) limited ??= answer;
        }
      }),
    );
    // Refused as before (401, or 404 on a route that does not exist) up to the limit, 429 after it.
    assert.deepEqual([...statuses.keys()].sort(), [401, 404, 429], JSON.stringify([...statuses]));
    assert.ok(statuses.get(401)! + statuses.get(404)! >= UNAUTHENTICATED_PER_MINUTE, JSON.stringify([...statuses]));
    assert.ok(limited, 'no request was refused 429');
    assert.equal(limited.body.error.kind, 'unavailable');
    assert.match(limited.body.error.message, new RegExp(`^too many requests without a valid token from 127\\.0\\.0\\.1: more than ${UNAUTHENTICATED_PER_MINUTE} in a minute`));
    assert.match(limited.body.error.fix, /valid token/);
    assert.ok(Number(limited.headers['retry-after']) >= 1, `Retry-After: ${limited.headers['retry-after']}`);
    // A valid token from the same address is not limited.
    assert.equal((await request('GET', '/v1/tokens', { token: admin })).status, 200);

    // The first refusal is in the log at once; the others are one entry when the minute ends, or the server stops.
    await app.close();
    await start();
    const entries = (await auditRows(db)).filter((e) => e.seq > before);
    // Two a minute at most (the first, then the count): on a machine so slow that the requests took several minutes, two for each.
    const minutes = Math.ceil((Date.now() - started) / 60_000);
    assert.ok(entries.length <= 2 * minutes, `${entries.length} entries for ${total} refusals in ${minutes} minute(s)`);
    assert.ok(entries.every((e) => e.actor === 'anonymous' && e.params.source === '127.0.0.1'));
    const counted = entries.reduce((sum, e) => sum + (typeof e.params.count === 'number' ? e.params.count : 1), 0);
    assert.equal(counted, total);
    const summary = entries.find((e) => e.action === 'refused requests')!;
    assert.match(summary.outcome, /^refused ×\d+ more from 127\.0\.0\.1 within a minute of the entry before \(\d{3} ×\d+(, \d{3} ×\d+)*\)$/);
    assert.deepEqual(await verifyAuditLog(db, dir), { ok: true, count: (await newest())!.seq });
    // berth audit shows the count.
    const out: string[] = [];
    const code = await main(['audit'], { isTTY: false, color: false, out: (t) => out.push(t), err: (t) => out.push(t) }, { HOME: dir, BERTH_SERVER: `http://127.0.0.1:${port}`, BERTH_TOKEN: viewer }, dir);
    assert.equal(code, 0, out.join('\n'));
    assert.match(out.join('\n'), new RegExp(`anonymous +refused requests +from 127\\.0\\.0\\.1 +refused ×${summary.params.count as number} more from 127\\.0\\.0\\.1`));
  });

  it('refuses a mutation 503, naming the file, while the audit head cannot be written, and accepts it again once it can', async () => {
    assert.equal((await request('POST', '/v1/tokens', { token: admin, body: JSON.stringify({ name: 'first', role: 'viewer' }) })).status, 201);
    // Root writes into a read-only folder, so the head's path is taken by a folder instead: renaming the new head over it fails as on a read-only state.
    const head = join(dir, AUDIT_HEAD_FILE);
    rmSync(head);
    mkdirSync(head);
    const refused = await request('POST', '/v1/tokens', { token: admin, body: JSON.stringify({ name: 'unrecorded', role: 'viewer' }) });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.kind, 'unavailable');
    assert.match(refused.body.error.message, new RegExp(`^the audit head ${head.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be written \\(EISDIR\\)`));
    assert.match(refused.body.error.fix, /writable/);
    const listed = (await request('GET', '/v1/tokens', { token: admin })).body.tokens as { name: string }[];
    assert.ok(!listed.some((t) => t.name === 'unrecorded'), 'the refused mutation was made');

    rmSync(head, { recursive: true });
    assert.equal((await request('POST', '/v1/tokens', { token: admin, body: JSON.stringify({ name: 'recorded', role: 'viewer' }) })).status, 201);
    const last = (await newest())!;
    assert.equal(last.action, 'token create');
    assert.equal(last.outcome, 'ok 201');
    assert.deepEqual(await verifyAuditLog(db, dir), { ok: true, count: last.seq });
  });

  it("fails the reconciler's passes, naming the file, while the audit head cannot be written", async () => {
    const state = mkdtempSync(join(tmpdir(), 'berth-limits-reconciler-'));
    const server = await startServer({ listen: '127.0.0.1:0', stateDir: state, env: {}, say: () => {}, reconcileIntervalMs: 50 });
    try {
      mkdirSync(join(state, AUDIT_HEAD_FILE));
      const failure = await until('a reconcile-failed event', async () => (await server.core.events.after(0)).find((e) => e.type === 'reconcile-failed'));
      assert.match((failure.data as { message: string }).message, new RegExp(`^the audit head ${join(state, AUDIT_HEAD_FILE).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be (read|written)`));
    } finally {
      await server.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
