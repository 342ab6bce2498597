/** The registry client's blob mount, upload and manifest put, against a small Registry API v2 on loopback. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from './client.js';

const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const PASSWORD = 'pw-never-shown';

/** Blobs per repository; mounts, uploads and manifests as Distribution answers them. */
function fakeRegistry() {
  const blobs = new Map<string, Map<string, Buffer>>();
  const requests: string[] = [];
  const repo = (name: string) => blobs.get(name) ?? blobs.set(name, new Map()).get(name)!;
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const upload = /^\/v2\/(.+)\/blobs\/uploads\/(.*)$/.exec(url.pathname);
    const manifest = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    if (req.method === 'POST' && upload) {
      await read(req);
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && blobs.get(from)?.has(mount)) {
        repo(upload[1]!).set(mount, blobs.get(from)!.get(mount)!);
        res.writeHead(201).end();
      } else res.writeHead(202, { Location: `/v2/${upload[1]}/blobs/uploads/session-1?_state=x` }).end();
    } else if (req.method === 'PUT' && upload) {
      const data = await read(req);
      const digest = url.searchParams.get('digest')!;
      if (digestOf(data) !== digest || url.searchParams.get('_state') !== 'x') {
        res.writeHead(400).end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] }));
        return;
      }
      repo(upload[1]!).set(digest, data);
      res.writeHead(201).end();
    } else if (req.method === 'PUT' && manifest) {
      const data = await read(req);
      res.writeHead(201, { 'Docker-Content-Digest': digestOf(data) }).end();
    } else res.writeHead(404).end();
  });
  return { server, blobs, requests, repo };
}

describe('RegistryClient: putBlob and putManifest', () => {
  const registry = fakeRegistry();
  let client: RegistryClient;
  let address: string;

  before(async () => {
    await new Promise<void>((resolve) => (registry.server as Server).listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(registry.server.address() as AddressInfo).port}`;
    client = new RegistryClient(address, { username: 'u', password: PASSWORD });
  });
  after(() => registry.server.close());

  it('mounts a layer the source repository holds, without opening its data', async () => {
    const layer = Buffer.from('parent layer');
    registry.repo('berth/base').set(digestOf(layer), layer);
    let opened = 0;
    const how = await client.putBlob('berth/app', digestOf(layer), layer.length, () => (opened++, Readable.from([layer])), 'berth/base');
    assert.equal(how, 'mounted');
    assert.equal(opened, 0);
    assert.ok(registry.blobs.get('berth/app')?.get(digestOf(layer))?.equals(layer));
    assert.equal(registry.requests.at(-1), `POST /v2/berth/app/blobs/uploads/?mount=${encodeURIComponent(digestOf(layer))}&from=berth%2Fbase`);
  });

  it('uploads the data into the session the registry opened when the source does not hold it', async () => {
    const layer = Buffer.from('a layer of its own, '.repeat(1000));
    const how = await client.putBlob('berth/app', digestOf(layer), layer.length, () => Readable.from([layer.subarray(0, 7), layer.subarray(7)]), 'berth/base');
    assert.equal(how, 'uploaded');
    assert.ok(registry.blobs.get('berth/app')?.get(digestOf(layer))?.equals(layer));
    assert.match(registry.requests.at(-1)!, /^PUT \/v2\/berth\/app\/blobs\/uploads\/session-1\?_state=x&digest=sha256%3A[0-9a-f]{64}$/);
  });

  it('stores a manifest and answers the digest the registry gives it', async () => {
    const body = Buffer.from('{"schemaVersion":2}');
    assert.equal(await client.putManifest('berth/app', 'abc123', 'application/vnd.oci.image.manifest.v1+json', body), digestOf(body));
  });

  it('refuses wrong data with the registry\'s words, and a refused login without the password', async () => {
    await assert.rejects(client.putBlob('berth/app', digestOf(Buffer.from('x')), 1, () => Readable.from([Buffer.from('y')])), /DIGEST_INVALID/);
    const wrong = new RegistryClient(address, { username: 'u', password: 'other-secret' });
    await assert.rejects(wrong.putBlob('berth/app', digestOf(Buffer.from('x')), 1, () => Readable.from([Buffer.from('x')])), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, 'forbidden');
      assert.ok(!e.message.includes('other-secret') && !e.message.includes(PASSWORD), e.message);
      return true;
    });
  });
});
