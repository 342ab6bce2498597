import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import type { BerthError } from '../errors.js';
import type { EngineHttp } from './http.js';
import { ImageClient, registryAuthHeader } from './images.js';

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

describe('ImageClient.pull', () => {
  const auth = { serveraddress: '10.0.0.2:5000', username: 'berth', password: 'hunter2-secret' };
  const engineWith = (call: (method: string, path: string, options: { query?: unknown; headers?: Record<string, string> }) => Promise<unknown>) =>
    new ImageClient({ call } as unknown as EngineHttp, 'tcp://10.0.0.3:2376');

  it('pulls repo@digest with the credentials in X-Registry-Auth and reads the stream to its end', async () => {
    const seen: unknown[] = [];
    const client = engineWith(async (method, path, options) => {
      seen.push([method, path, options.query, decode(options.headers!['X-Registry-Auth']!)]);
      return Readable.from([`{"status":"Pulling fs layer","id":"a1"}\n{"status":"Download complete","id":"a1"}\n{"status":"Already exists","id":"b2"}\n`, '{"status":"Digest: sha256:d1"}\n']);
    });
    assert.deepEqual(await client.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth), { downloaded: 1 });
    assert.deepEqual(seen, [['POST', '/images/create', { fromImage: '10.0.0.2:5000/berth/app', tag: 'sha256:d1' }, { username: 'berth', password: 'hunter2-secret', serveraddress: '10.0.0.2:5000' }]]);
  });

  it("fails with the engine's message from the stream, the password never in it", async () => {
    const client = engineWith(async () => Readable.from(['{"status":"Pulling"}\n{"errorDetail":{"message":"x"},"error":"unauthorized: hunter2-secret is wrong"}\n']));
    const error = await client.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth).then(() => assert.fail('expected a failure'), (e: unknown) => e as BerthError);
    assert.equal(error.message, 'the engine at tcp://10.0.0.3:2376 could not pull 10.0.0.2:5000/berth/app@sha256:d1: unauthorized: *** is wrong');
  });

  it('hides the password in a refused call too', async () => {
    const client = engineWith(async () => Promise.reject(Object.assign(new Error('Get https://10.0.0.2:5000/v2/: auth hunter2-secret refused'), { statusCode: 500 })));
    const error = await client.pull('10.0.0.2:5000/berth/app', 'sha256:d1', auth).then(() => assert.fail('expected a failure'), (e: unknown) => e as BerthError);
    assert.equal(error.kind, 'failed');
    assert.doesNotMatch(`${error.message} ${error.fix ?? ''} ${error.lines.join(' ')} ${String(error.cause ?? '')}`, /hunter2/);
  });
});
