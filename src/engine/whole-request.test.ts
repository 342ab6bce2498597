import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineCallError, EngineHttp } from './http.js';
import { parseAnswer, wholeRequest } from './whole-request.js';

const answer = (text: string) => parseAnswer(Buffer.from(text, 'latin1'));

describe('parseAnswer', () => {
  it('reads the status and a body of Content-Length bytes', () => {
    const a = answer('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}');
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), '{"a":1}');
  });

  it('joins a chunked body', () => {
    const a = answer('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"me\r\n9\r\nssage":"x\r\n2\r\n"}\r\n0\r\n\r\n');
    assert.equal(a.status, 404);
    assert.equal(a.body.toString(), '{"message":"x"}');
  });

  it('takes a body without a length up to the close, and none after a 204', () => {
    assert.equal(answer('HTTP/1.0 200 OK\r\n\r\nall of it').body.toString(), 'all of it');
    const empty = answer('HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n');
    assert.equal(empty.status, 204);
    assert.equal(empty.body.length, 0);
  });

  it('calls a cut-off answer a dropped connection, not a short body', () => {
    for (const cut of ['HTTP/1.1 200 OK\r\nContent-Le', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc']) {
      assert.throws(() => answer(cut), (e: Error & { code?: string }) => e.code === 'ECONNRESET' && /closed the connection/.test(e.message), cut);
    }
    assert.throws(() => answer('SSH-2.0-OpenSSH\r\n\r\n'), /not HTTP/);
  });
});

describe('wholeRequest and EngineHttp over a unix socket', () => {
  let dir: string;
  let server: Server;
  const seen: { method: string; url: string; body: string; connection: string | undefined }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-whole-'));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body, connection: req.headers.connection });
        if (req.url!.startsWith('/slow')) return; // never answers
        if (req.url!.startsWith('/missing')) {
          res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'No such image: x' }));
          return;
        }
        // Written in pieces, so node:http sends it chunked.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"echo":');
        res.write(JSON.stringify(body));
        res.end('}');
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the method, path, query and JSON body, and reads a chunked answer', async () => {
    const http = new EngineHttp({ socketPath: join(dir, 's.sock') });
    const got = await http.json<{ echo: string }>('POST', '/containers/create', { query: { name: 'a b' }, body: { Image: 'x' } });
    assert.deepEqual(JSON.parse(got.echo), { Image: 'x' });
    const last = seen.at(-1)!;
    assert.equal(last.method, 'POST');
    assert.equal(last.url, '/containers/create?name=a+b');
    assert.equal(last.connection, 'close');
  });

  it("rejects a 4xx with the engine's message and status", async () => {
    const http = new EngineHttp({ socketPath: join(dir, 's.sock') });
    await assert.rejects(http.json('GET', '/missing/json'), (e: unknown) => e instanceof EngineCallError && e.statusCode === 404 && e.message === 'No such image: x');
  });

  it('gives up after the timeout with ETIMEDOUT, and reports a socket that is not there', async () => {
    await assert.rejects(wholeRequest({ socketPath: join(dir, 's.sock') }, { method: 'GET', path: '/slow', headers: {}, timeoutMs: 100 }), { code: 'ETIMEDOUT' });
    await assert.rejects(wholeRequest({ socketPath: join(dir, 'none.sock') }, { method: 'GET', path: '/', headers: {} }), { code: 'ENOENT' });
  });
});
