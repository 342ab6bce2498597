import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unfinished } from './move.js';

const moved = (n: number) => ({ service: 'hello', environment: 'production', slot: `hello-production-${n}`, from: 'h2', to: 'h1' });
const stayed = (n: number) => ({ service: 'hello', environment: 'production', slot: `hello-production-${n}`, host: 'h2', reason: 'instance hello-production-4: not healthy' });

test('a drain that finished is no error', () => {
  assert.equal(unfinished({ host: 'h2', moved: [moved(1)], stayed: [], rollouts: [3] }, 'berth host drain h2'), undefined);
});

test('what stayed, where, why, and that the same command continues', () => {
  const e = unfinished({ host: 'h2', moved: [moved(1), moved(2), moved(3)], stayed: [stayed(4), stayed(5)], rollouts: [3] }, 'berth host drain h2')!;
  assert.equal(e.kind, 'failed');
  assert.equal(e.message, 'moved 3 of 5; hello-production-4, hello-production-5 are still on h2');
  assert.deepEqual(e.lines, ['hello in production: instance hello-production-4: not healthy']);
  assert.equal(e.fix, 'run the same command again to continue: berth host drain h2');
});
