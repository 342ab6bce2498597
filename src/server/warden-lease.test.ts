/**
 * A warden's lease through the server (a real fastify app and store, no Docker): only its own
 * host's token renews it, that token can do nothing else, a host the server holds down is
 * refused (its warden stops its instances), and a new token for the host ends the old one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin, createHostToken } from '../access/tokens.js';
import { setHostHealth } from '../store/host-health.js';
import { wardenLeases } from '../store/warden-leases.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';

const BERTH_YAML = `project: lease-test
images:
  base:
    root: {}
hosts:
  - { name: h1, engine: "tcp://10.99.0.1:2375", insecure: true }
  - { name: h2, engine: "tcp://10.99.0.2:2375", insecure: true }
fleet:
  failure: { interval: 1s, timeout: 500ms, down_after: 5 }
services:
  web: { image: base, ports: [8080] }
environments:
  dev: { hosts: [h1, h2] }
`;

describe('the warden lease route', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'berth-lease-test-'));
  let db: Store;
  let app: FastifyInstance;
  let admin = '';
  let h1 = '';

  const send = async (method: 'GET' | 'POST', url: string, token: string) => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, any> };
  };

  before(async () => {
    db = await openStore(stateDir);
    const core = new ServerCore(stateDir, db, { PATH: process.env.PATH });
    app = await buildApp(core);
    admin = (await bootstrapAdmin(db))!.token;
    const files = { 'berth.yaml': Buffer.from(BERTH_YAML).toString('base64'), 'images/base/static.sh': Buffer.from('#!/bin/sh\n').toString('base64') };
    const applied = await app.inject({ method: 'POST', url: '/v1/config', headers: { authorization: `Bearer ${admin}` }, payload: { files, executable: ['images/base/static.sh'] } });
    assert.equal(applied.statusCode, 201, applied.body);
    h1 = (await createHostToken(db, 'h1', 'server')).token;
  });
  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('h1\'s token renews h1\'s lease for the time the server takes to call a silent host down', async () => {
    const before = Date.now();
    const renewed = await send('POST', '/v1/hosts/h1/lease', h1);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.deepEqual([renewed.body.host, renewed.body.ttlMs], ['h1', 5000]);
    const stored = (await wardenLeases(db)).get('h1')!;
    assert.ok(stored.expiresAt >= before + 5000 && stored.expiresAt === Date.parse(renewed.body.expiresAt as string));
  });

  it('h1\'s token may not renew h2\'s lease, nor read anything; no other token may renew a lease', async () => {
    const other = await send('POST', '/v1/hosts/h2/lease', h1);
    assert.deepEqual([other.status, other.body.error.message], [403, 'token warden-h1 may not POST /v1/hosts/:host/lease in h2: it lacks rights on host h2 (this token speaks for h1)']);
    assert.equal((await send('GET', '/v1/hosts', h1)).status, 403);
    assert.equal((await send('GET', '/v1/tokens', h1)).status, 403);
    assert.equal((await send('POST', '/v1/hosts/h1/lease', admin)).status, 403);
    assert.equal((await wardenLeases(db)).has('h2'), false);
  });

  it('a host the server holds down is refused 409, so its warden stops its instances', async () => {
    await setHostHealth(db, { name: 'h1', state: 'down', since: Date.now(), reason: '5 ping(s) in a row missed' });
    const refused = await send('POST', '/v1/hosts/h1/lease', h1);
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message as string, /^host h1 is down since .+ \(5 ping\(s\) in a row missed\): its instances fail over to other hosts; stop them$/);
    await setHostHealth(db, { name: 'h1', state: 'returning', since: Date.now(), reason: 'it answers again' });
    assert.equal((await send('POST', '/v1/hosts/h1/lease', h1)).status, 200, 'returning: granted again');
  });

  it('a new token for h1 ends the old one', async () => {
    const fresh = await createHostToken(db, 'h1', 'server');
    assert.match(fresh.record.name, /^warden-h1-[0-9a-z]+$/);
    assert.equal((await send('POST', '/v1/hosts/h1/lease', h1)).status, 401);
    assert.equal((await send('POST', '/v1/hosts/h1/lease', fresh.token)).status, 200);
  });
});
