import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpoint, injectCheckpointFault } from './fault.js';

describe('rollout checkpoints', () => {
  it('do nothing until a fault is injected, then run it with where they are, until it is taken away', () => {
    const seen: string[] = [];
    checkpoint('before');
    injectCheckpointFault((where) => seen.push(where));
    checkpoint('created');
    checkpoint('started');
    injectCheckpointFault(undefined);
    checkpoint('after');
    assert.deepEqual(seen, ['created', 'started']);
  });
});
