import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asideName, containerName, ordinalOf, placeSlots, roleOf, slotName } from './slots.js';

describe('slots and placement', () => {
  it('names a slot <service>-<env>-<n>', () => {
    assert.equal(slotName('api', 'production', 3), 'api-production-3');
  });

  it('names the container <project>.<slot>, so two projects with the same service and environment never share one', () => {
    assert.equal(containerName('shop', 'api-production-3'), 'shop.api-production-3');
    assert.notEqual(containerName('shop', 'api-production-3'), containerName('blog', 'api-production-3'));
    assert.equal(asideName('shop', 'api-production-3'), 'shop.api-production-3-prev');
  });

  it("tells a slot's own container from a set-aside one and from a stray", () => {
    assert.equal(roleOf('shop', 'api-dev-1', 'shop.api-dev-1'), 'main');
    assert.equal(roleOf('shop', 'api-dev-1', 'shop.api-dev-1-prev'), 'aside');
    assert.equal(roleOf('shop', 'api-dev-1', 'api-dev-1'), 'stray');
    assert.equal(roleOf('shop', 'api-dev-1', 'blog.api-dev-1'), 'stray');
    assert.equal(ordinalOf('api-dev-12'), 12);
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
