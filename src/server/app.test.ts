/** The API's plumbing on a real fastify app and a real SQLite store (no engine): errors, tokens, OpenAPI, the event stream. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin, createToken } from '../access/tokens.js';
import { connectServer } from '../remote/client.js';
import { parseSse } from '../remote/sse.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { until } from '../testing/until.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';

describe('the API', () => {
  let dir: string;
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  let admin: string;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-app-test-'));
    db = await openStore(dir);
    admin = (await bootstrapAdmin(db))!.token;
    core = new ServerCore(dir, db, {});
    app = await buildApp(core);
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  it('the first start makes one admin token, and only one', async () => {
    assert.equal(await bootstrapAdmin(db), undefined);
    assert.match(admin, /^berth_[A-Za-z0-9_-]{43}$/);
  });

  it('a request without a token, or with an unknown one, is 401 in Berth\'s error shape, before its body is looked at', async () => {
    const none = await app.inject({ method: 'POST', url: '/v1/services/web/releases', payload: { nonsense: true } });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.kind, 'unauthenticated');
    assert.match(none.json().error.fix, /BERTH_TOKEN/);
    const wrong = await app.inject({ method: 'GET', url: '/v1/instances', headers: auth('berth_not-a-token') });
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.json().error.message, /not valid/);
  });

  it('a body that does not match its schema is 400 invalid, naming the field', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/services/web/scale', headers: auth(admin), payload: { environment: 'dev', replicas: -1 } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.kind, 'invalid');
    assert.match(res.json().error.message, /replicas/);
  });

  it('an unknown route is 404 in Berth\'s shape; a known one without a configuration applied says how to apply one', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/nothing-here', headers: auth(admin) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.kind, 'not-found');
    const project = await app.inject({ method: 'GET', url: '/v1/project', headers: auth(admin) });
    assert.equal(project.statusCode, 404);
    assert.match(project.json().error.fix, /berth apply/);
  });

  it('the OpenAPI document is public and describes every route with the schema that validates it', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };
    assert.match(doc.openapi, /^3\./);
    for (const path of ['/v1/config', '/v1/services/{service}/releases', '/v1/services/{service}/promotions', '/v1/instances', '/v1/events', '/v1/tokens', '/v1/rollouts/{id}/cancel']) assert.ok(doc.paths[path], `no ${path} in ${Object.keys(doc.paths).join(', ')}`);
    assert.deepEqual(doc.paths['/v1/services/{service}/scale']!.post!.requestBody!.content['application/json']!.schema.required, ['environment', 'replicas']);
  });

  it('the answers of the server become the same Berth errors in the CLI\'s client', async () => {
    const viewer = (await createToken(db, { name: 'look', role: 'viewer', createdBy: 'test' })).token;
    const client = connectServer({ url: new URL(url), token: viewer });
    await assert.rejects(client.post('/v1/tokens', { name: 'x', role: 'admin' }), (e: Error & { kind?: string }) => e.kind === 'forbidden' && /lacks the role admin \(this token is a viewer\)/.test(e.message));
    client.close();
  });

  it('a stopping server ends the event streams it serves (their clients resume with Last-Event-ID)', async () => {
    const client = connectServer({ url: new URL(url), token: admin });
    const res = await client.stream('/v1/events', {});
    const ended = new Promise<void>((resolve) => res.once('end', () => resolve()).once('close', () => resolve()));
    res.resume();
    core.events.closeStreams();
    await ended;
    client.close();
  });

  it('revoking a token ends the event streams it opened, and only those', async () => {
    const reader = (await createToken(db, { name: 'reader', role: 'viewer', createdBy: 'test' })).token;
    const open = async (token: string) => {
      const client = connectServer({ url: new URL(url), token });
      const res = await client.stream('/v1/events', {});
      let ended = false;
      res.once('end', () => (ended = true)).once('close', () => (ended = true));
      res.resume();
      return { client, res, ended: () => ended };
    };
    const revoked = await open(reader);
    const kept = await open(admin);
    const answer = await app.inject({ method: 'DELETE', url: '/v1/tokens/reader', headers: auth(admin) });
    assert.equal(answer.statusCode, 200);
    await until("the revoked token's stream to end", async () => revoked.ended() || undefined, 30_000, 20);
    assert.equal(kept.ended(), false, "another token's stream was ended");
    for (const s of [revoked, kept]) {
      s.res.destroy();
      s.client.close();
    }
  });

  it('the event stream resumes from Last-Event-ID without losing or repeating an event', async () => {
    const first: number[] = [];
    for (const n of [1, 2, 3, 4, 5]) first.push((await core.events.publish('test', { n })).seq);
    const client = connectServer({ url: new URL(url), token: admin });
    const read = async (count: number, headers: Record<string, string>, during?: () => void) => {
      const controller = new AbortController();
      const res = await client.stream(`/v1/events?after=${first[0]! - 1}`, headers, controller.signal);
      const got: { id: string; n: number }[] = [];
      try {
        for await (const e of parseSse(res)) {
          if (e.event !== 'test') continue;
          got.push({ id: e.id!, n: (JSON.parse(e.data) as { n: number }).n });
          if (got.length === 2) during?.();
          if (got.length === count) break;
        }
      } finally {
        controller.abort();
        res.destroy();
      }
      return got;
    };
    // Three read, the connection dropped; two more published live while the first stream runs, two while nobody listens.
    const one = await read(3, {}, () => [6, 7].forEach(async (n) => await core.events.publish('test', { n })));
    [8, 9].forEach(async (n) => await core.events.publish('test', { n }));
    const two = await read(6, { 'last-event-id': one.at(-1)!.id });
    assert.deepEqual(one.map((e) => e.n), [1, 2, 3]);
    assert.deepEqual(two.map((e) => e.n), [4, 5, 6, 7, 8, 9]);
    assert.deepEqual([...one, ...two].map((e) => Number(e.id)), [...first, ...[0, 1, 2, 3].map((i) => first[4]! + 1 + i)]);
    client.close();
  });
});
