import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asideName, containerName, ordinalOf, roleOf, slotName } from './slots.js';

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
});
