import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpoint, injectCheckpointFault } from './fault.js';

describe('rollout checkpoints', () => {
  it('do nothing until a fault is injected, then run it with where they are, until it is taken away', async () => {
    const seen: string[] = [];
    await checkpoint('before');
    injectCheckpointFault((where) => void seen.push(where));
    await checkpoint('created');
    await checkpoint('started');
    injectCheckpointFault(undefined);
    await checkpoint('after');
    assert.deepEqual(seen, ['created', 'started']);
  });

  it('wait for what the fault returns: a fault that never settles stops its caller there', async () => {
    let hold: () => void = () => {};
    injectCheckpointFault(() => new Promise<void>((resolve) => (hold = resolve)));
    let passed = false;
    const caller = checkpoint('created').then(() => (passed = true));
    injectCheckpointFault(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(passed, false, 'the caller went on while the fault held it');
    hold();
    await caller;
    assert.equal(passed, true);
  });
});
