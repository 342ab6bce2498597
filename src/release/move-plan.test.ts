import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseDestinations, planMoves, type SlotOnHost } from './move-plan.js';
import { isBerthError } from '../errors.js';

const ordinal = (slot: string) => Number(slot.split('-').at(-1));
const on = (host: string, ...ordinals: number[]): SlotOnHost[] => ordinals.map((n) => ({ slot: `web-prod-${n}`, ordinal: n, host }));

test('the slots of a left host go to the ready hosts holding the fewest instances, in slot order', () => {
  const slots = [...on('h1', 1, 4), ...on('h2', 2, 5, 6), ...on('h3', 3)];
  const moves = chooseDestinations('web', 'prod', slots, ['h1', 'h2', 'h3'], new Set(['h2']));
  assert.deepEqual([...moves], [['web-prod-2', 'h3'], ['web-prod-5', 'h1'], ['web-prod-6', 'h3']]);
});

test('slots on hosts that are not left stay where they are', () => {
  assert.deepEqual([...chooseDestinations('web', 'prod', on('h1', 1, 2), ['h1', 'h2'], new Set(['h3']))], []);
});

test('with every host left there is nowhere to go: a conflict naming the hosts', () => {
  assert.throws(
    () => chooseDestinations('web', 'prod', on('h1', 1), ['h1', 'h2'], new Set(['h1', 'h2'])),
    (e: unknown) => isBerthError(e) && e.kind === 'conflict' && /h1, h2/.test(e.message),
  );
});

test('moves run in batches of drain then replace on the new host, between the front door and converge', () => {
  const moves = new Map([['web-prod-5', 'h1'], ['web-prod-2', 'h3'], ['web-prod-6', 'h3']]);
  assert.deepEqual(planMoves(moves, 6, { batchSize: 2, maxUnavailable: 3 }, ordinal), [
    { op: 'front-door' },
    { op: 'drain', slots: ['web-prod-2', 'web-prod-5'] },
    { op: 'replace', slots: ['web-prod-2', 'web-prod-5'], to: { 'web-prod-2': 'h3', 'web-prod-5': 'h1' } },
    { op: 'drain', slots: ['web-prod-6'] },
    { op: 'replace', slots: ['web-prod-6'], to: { 'web-prod-6': 'h3' } },
    { op: 'converge', replicas: 6 },
  ]);
});

test('a batch is at most max_unavailable, and one slot when that is 0 (a moved slot cannot surge)', () => {
  const moves = new Map([['web-prod-1', 'h2'], ['web-prod-2', 'h2']]);
  const batches = (maxUnavailable: number) => planMoves(moves, 2, { batchSize: 4, maxUnavailable }, ordinal).filter((s) => s.op === 'replace').length;
  assert.equal(batches(1), 2);
  assert.equal(batches(0), 2);
  assert.equal(batches(2), 1);
});

test('nothing to move is no plan at all', () => {
  assert.deepEqual(planMoves(new Map(), 3, { batchSize: 1, maxUnavailable: 1 }, ordinal), []);
});
