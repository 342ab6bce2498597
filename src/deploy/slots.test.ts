import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeSlots, slotName } from './slots.js';

describe('slots and placement', () => {
  it('names a slot <service>-<env>-<n>', () => {
    assert.equal(slotName('api', 'production', 3), 'api-production-3');
  });

  it('spreads new slots over the hosts, fewest first, in the environment order', () => {
    const placed = placeSlots('api', 'prod', 5, ['a', 'b'], new Map());
    assert.deepEqual(placed.map((p) => `${p.slot}@${p.host}`), ['api-prod-1@a', 'api-prod-2@b', 'api-prod-3@a', 'api-prod-4@b', 'api-prod-5@a']);
  });

  it('keeps a slot on its host, and moves only the slots whose host left the environment', () => {
    const previous = new Map([
      ['api-prod-1', 'b'],
      ['api-prod-2', 'gone'],
    ]);
    const placed = placeSlots('api', 'prod', 3, ['a', 'b'], previous);
    assert.deepEqual(placed.map((p) => p.host), ['b', 'a', 'a']);
  });

  it('scaling down keeps the lowest slots', () => {
    const placed = placeSlots('api', 'prod', 1, ['a'], new Map([['api-prod-1', 'a'], ['api-prod-2', 'a']]));
    assert.deepEqual(placed.map((p) => p.slot), ['api-prod-1']);
  });
});
