/** The engine client against a real local HTTPS server with mutual TLS (certificates made by openssl for the run). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../errors.js';
import { DockerEngine } from './client.js';
import { guard, isUnreachable } from './errors.js';
import { EngineCallError, EngineHttp, readText } from './http.js';
import { makeTestCa, type TestCa } from './test-certs.js';

let dir: string;
let good: TestCa;
let other: TestCa;
let server: Server;
let port: number;
/** Paths the server was asked for, and how many TLS connections it accepted. */
const asked: string[] = [];
let connections = 0;
let apiVersion = '1.41';

function handle(req: IncomingMessage, res: ServerResponse): void {
  asked.push(req.url ?? '');
  const url = req.url ?? '';
  if (url === '/_ping') return void res.writeHead(200, { 'API-Version': apiVersion }).end('OK');
  if (url === '/version') return void res.end(JSON.stringify({ Version: '20.10.24', ApiVersion: apiVersion, Os: 'linux', KernelVersion: '6.1' }));
  if (url.endsWith('/info')) return void res.end(JSON.stringify({ NCPU: 2, MemTotal: 4_000_000_000, Driver: 'overlay2' }));
  if (url.endsWith('/never')) return; // accepts the request and never answers
  if (url.endsWith('/missing')) return void res.writeHead(404).end(JSON.stringify({ message: 'No such container: x' }));
  if (url.endsWith('/stream')) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write('{"a":1}\n');
    setTimeout(() => res.end('{"b":2}\n'), 20);
    return;
  }
  res.end('{}');
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-transport-test-'));
  good = makeTestCa(dir, 'good');
  other = makeTestCa(dir, 'other');
  server = createHttpsServer(
    { key: readFileSync(good.serverKey), cert: readFileSync(good.serverCert), ca: readFileSync(good.ca), requestCert: true, rejectUnauthorized: true },
    handle,
  );
  server.on('secureConnection', () => connections++);
  return new Promise<void>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      port = (server.address() as { port: number }).port;
      resolve();
    }),
  );
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const engineWith = (tls: { ca: string; cert: string; key: string }, at = port) => new DockerEngine({ host: '127.0.0.1', port: at, tls, connectTimeoutMs: 2000 }, `tcp://127.0.0.1:${at}`);
const trusted = () => engineWith({ ca: good.ca, cert: good.clientCert, key: good.clientKey });
/** The HTTP client under the engine, for what only it shows (streams, raw errors, its own deadlines). */
const trustedHttp = () => new EngineHttp({ host: '127.0.0.1', port, tls: { ca: good.ca, cert: good.clientCert, key: good.clientKey }, connectTimeoutMs: 2000 }, `tcp://127.0.0.1:${port}`);

async function rejection(promise: Promise<unknown>): Promise<BerthError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BerthError, `expected a BerthError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

describe('engine client over mutual TLS', () => {
  it('accepts the engine and Berth certificates of one CA, on the negotiated API path, and reads capacity', async () => {
    const engine = trusted();
    asked.length = 0;
    const info = await engine.info();
    assert.deepEqual([info.cpus, info.memoryBytes, info.storageDriver], [2, 4_000_000_000, 'overlay2']);
    assert.deepEqual(asked, ['/_ping', '/v1.41/info']);
    await engine.close();
  });

  it('speaks the newest API Berth knows to a newer engine', async () => {
    apiVersion = '1.47';
    try {
      const engine = trusted();
      asked.length = 0;
      await engine.info();
      assert.equal(await engine.apiVersion(), '1.44');
      assert.deepEqual(asked, ['/_ping', '/v1.44/info']);
      await engine.close();
    } finally {
      apiVersion = '1.41';
    }
  });

  it('keeps one connection for many calls', async () => {
    const engine = trusted();
    const before = connections;
    for (let i = 0; i < 20; i++) await engine.info();
    assert.equal(connections - before, 1);
    await engine.close();
  });

  it('streams an answer with its status and headers', async () => {
    const engine = trustedHttp();
    const response = await engine.call('GET', '/stream');
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.equal(await readText(response), '{"a":1}\n{"b":2}\n');
    await engine.close();
  });

  it("gives an engine's error answer as its status and message, not as unreachable", async () => {
    const engine = trustedHttp();
    const error = await engine.json('GET', '/missing').catch((e: unknown) => e);
    assert.ok(error instanceof EngineCallError);
    assert.deepEqual([error.statusCode, error.message, isUnreachable(error)], [404, 'No such container: x', false]);
    await engine.close();
  });

  it('refuses an engine whose certificate another CA signed', async () => {
    const engine = engineWith({ ca: other.ca, cert: good.clientCert, key: good.clientKey });
    const error = await rejection(engine.info());
    assert.equal(error.kind, 'unavailable');
    assert.ok(isUnreachable(error));
    assert.match(error.message, new RegExp(`^the engine at tcp://127\\.0\\.0\\.1:${port}: TLS handshake failed: certificate signed by unknown authority`));
    assert.match(error.message, /while trying to read the engine info$/);
  });

  it('is refused by an engine that does not trust its client certificate', async () => {
    const engine = engineWith({ ca: good.ca, cert: other.clientCert, key: other.clientKey });
    const error = await rejection(engine.info());
    assert.equal(error.kind, 'unavailable');
    assert.ok(isUnreachable(error));
    assert.match(error.message, new RegExp(`^the engine at tcp://127\\.0\\.0\\.1:${port}`));
    assert.match(error.message, /client certificate/);
  });

  it('gives up on a call the engine does not answer within its timeout', async () => {
    const engine = trustedHttp();
    const error = await rejection(guard(engine.endpoint, 'read never', () => engine.json('GET', '/never', { timeoutMs: 300 })));
    assert.equal(error.kind, 'unavailable');
    assert.ok(isUnreachable(error));
    assert.equal(error.message, `the engine at tcp://127.0.0.1:${port} did not answer within 0.3 s, while trying to read never`);
    await engine.close();
  });

  it('names a refused connection', async () => {
    const closed = createTcpServer();
    const free = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)));
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejection(engineWith({ ca: good.ca, cert: good.clientCert, key: good.clientKey }, free).info());
    assert.equal(error.kind, 'unavailable');
    assert.ok(isUnreachable(error));
    assert.equal(error.message, `the engine at tcp://127.0.0.1:${free} refused the connection (ECONNREFUSED): nothing listens there, while trying to read the engine info`);
  });

  it('names a TLS file it cannot read', async () => {
    const error = await rejection(engineWith({ ca: join(dir, 'nope.pem'), cert: good.clientCert, key: good.clientKey }).info());
    assert.equal(error.kind, 'unavailable');
    assert.match(error.message, /its TLS CA .*nope\.pem cannot be read \(ENOENT\)/);
  });
});
