import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerCleanup, runRegisteredCleanups } from './cleanup.js';

describe('the cleanup registry', () => {
  it('runs what is still registered, newest first, each once, and goes on after a failure', async () => {
    const ran: string[] = [];
    registerCleanup('bridge', async () => void ran.push('bridge'));
    const unregister = registerCleanup('finished fixture', async () => void ran.push('finished fixture'));
    registerCleanup('failing', async () => {
      ran.push('failing');
      throw new Error('engine gone');
    });
    registerCleanup('namespace', async () => void ran.push('namespace'));
    unregister();
    assert.deepEqual(await runRegisteredCleanups(), ['failing: engine gone']);
    assert.deepEqual(ran, ['namespace', 'failing', 'bridge']);
    assert.deepEqual(await runRegisteredCleanups(), []);
    assert.deepEqual(ran, ['namespace', 'failing', 'bridge']);
  });

  it('stops waiting at its bound and says so', async () => {
    registerCleanup('stuck', () => new Promise<void>(() => {}));
    assert.deepEqual(await runRegisteredCleanups(10), ['cleanup did not finish within 10 ms']);
  });
});
