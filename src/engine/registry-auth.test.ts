/** Credentials for a registry as the real engine client sends them: X-Registry-Auth, and a password never shown. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BerthError } from '../errors.js';
import { connectEngine } from './client.js';
import type { Engine } from './engine.js';
import { registryAuthHeader } from './images.js';

const decode = (header: string) => JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;

describe('X-Registry-Auth', () => {
  it('is the credentials as JSON in base64 with the URL alphabet and padding', () => {
    const header = registryAuthHeader({ serveraddress: '10.0.0.2:5000', username: 'berth', password: 'p>?s~w' });
    assert.deepEqual(decode(header), { username: 'berth', password: 'p>?s~w', serveraddress: '10.0.0.2:5000' });
    assert.doesNotMatch(header, /[+/]/);
    assert.equal(header.length % 4, 0);
  });

  it('carries only the server address without a username', () => {
    assert.deepEqual(decode(registryAuthHeader({ serveraddress: '127.0.0.1:5000' })), { serveraddress: '127.0.0.1:5000' });
  });
});

describe("the engine client's pull", () => {
  const auth = { serveraddress: '10.0.0.2:5000', username: 'berth', password: 'hunter2-secret' };
  let dir: string;
  let server: Server;
  let engine: Engine;
  /** What the engine (a local HTTP server on a unix socket, speaking the Engine API) answers to POST /images/create. */
  let answer: (res: ServerResponse) => void;
  const seen: { path: string; auth: unknown }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-registry-auth-'));
    const socket = join(dir, 'engine.sock');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/_ping') return res.writeHead(200, { 'API-Version': '1.41' }).end('OK');
      seen.push({ path: `${req.method} ${req.url}`, auth: decode(String(req.headers['x-registry-auth'])) });
      req.resume();
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    engine = connectEngine({ DOCKER_HOST: `unix://${socket}` });
  });
  after(async () => {
    await engine.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('pulls repo@digest with the credentials in X-Registry-Auth and reads the stream to its end', async () => {
    seen.length = 0;
    answer = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"status":"Pulling fs layer","id":"a1"}\n{"status":"Download complete","id":"a1"}\n{"status":"Already exists","id":"b2"}\n');
      res.end('{"status":"Digest: sha256:d1"}\n');
    };
    assert.deepEqual(await engine.images.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth), { downloaded: 1 });
    assert.deepEqual(seen, [
      { path: 'POST /v1.41/images/create?fromImage=10.0.0.2%3A5000%2Fberth%2Fapp&tag=sha256%3Ad1', auth: { username: 'berth', password: 'hunter2-secret', serveraddress: '10.0.0.2:5000' } },
    ]);
  });

  it("fails with the engine's message from the stream, the password never in it", async () => {
    answer = (res) => res.writeHead(200).end('{"status":"Pulling"}\n{"errorDetail":{"message":"x"},"error":"unauthorized: hunter2-secret is wrong"}\n');
    const error = await engine.images.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth).then(() => assert.fail('expected a failure'), (e: unknown) => e as BerthError);
    assert.equal(error.message, `the engine at ${engine.endpoint} could not pull 10.0.0.2:5000/berth/app@sha256:d1: unauthorized: *** is wrong`);
  });

  it('hides the password in a refused call too', async () => {
    answer = (res) => res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"Get https://10.0.0.2:5000/v2/: auth hunter2-secret refused"}');
    const error = await engine.images.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth).then(() => assert.fail('expected a failure'), (e: unknown) => e as BerthError);
    assert.equal(error.kind, 'failed');
    assert.match(error.message, /auth \*\*\* refused/);
    assert.doesNotMatch(`${error.message} ${error.fix ?? ''} ${error.lines.join(' ')} ${String(error.cause ?? '')}`, /hunter2/);
  });
});
