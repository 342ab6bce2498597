import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
