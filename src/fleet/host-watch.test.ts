/** When the host watch's next round starts: `interval` after the start of the last, so a silent host's timeout does not stretch it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRoundIn } from './host-watch.js';

test('a round that waited 1.5 s on a silent host is followed 0.5 s later at a 2 s interval, keeping one round per interval', () => {
  assert.equal(nextRoundIn(10_000, 11_500, 2000), 500);
  const starts = [0];
  for (let i = 0; i < 4; i++) starts.push(starts.at(-1)! + 1500 + nextRoundIn(starts.at(-1)!, starts.at(-1)! + 1500, 2000));
  assert.deepEqual(starts, [0, 2000, 4000, 6000, 8000], 'four missed pings take 8 s, not 4 × 3.5 s');
});

test('a round longer than the interval is followed at once (rounds never overlap, never wait below zero)', () => {
  assert.equal(nextRoundIn(10_000, 13_000, 2000), 0);
  assert.equal(nextRoundIn(10_000, 10_000, 2000), 2000);
});
