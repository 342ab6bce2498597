import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { loopbackFor, portState } from './port.js';

const listen = (server: Server, port = 0): Promise<number> =>
  new Promise((resolve) => server.listen({ host: '127.0.0.1', port }, () => resolve((server.address() as AddressInfo).port)));
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('portState', () => {
  it('a port nothing holds is free', async () => {
    const server = createServer();
    const port = await listen(server);
    await close(server);
    assert.deepEqual(await portState('127.0.0.1', port), { state: 'free' });
  });

  it('a port another program listens on is taken', async () => {
    const server = createServer();
    const port = await listen(server);
    try {
      assert.deepEqual(await portState('127.0.0.1', port), { state: 'taken' });
    } finally {
      await close(server);
    }
  });

  it('a port whose listener is gone is free while a connection it accepted is still open', async () => {
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket));
    const port = await listen(server);
    const client = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => client.once('connect', resolve));
    while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const closed = close(server);
    try {
      assert.deepEqual(await portState('127.0.0.1', port), { state: 'free' });
    } finally {
      client.destroy();
      for (const socket of accepted) socket.destroy();
      await closed;
    }
  });

  it('an address that is not this machine\'s is refused with the reason', async () => {
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const check = await portState('192.0.2.1', 8080);
    assert.equal(check.state, 'refused');
    assert.equal(check.state === 'refused' && check.error.code, 'EADDRNOTAVAIL');
  });

  it('reaches a listener on a wildcard address through loopback', () => {
    assert.deepEqual(['0.0.0.0', '::', '10.1.2.3'].map(loopbackFor), ['127.0.0.1', '::1', '10.1.2.3']);
  });
});
