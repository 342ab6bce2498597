/** How berth restart reads what it is asked to restart (pure). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restartTarget } from './restart.js';

describe('restartTarget', () => {
  it('reads <service>-<env>-<n> as one instance of the service, anything else as a service', () => {
    assert.deepEqual(restartTarget('web', 'production'), { service: 'web' });
    assert.deepEqual(restartTarget('web-production-2', 'production'), { service: 'web', instance: 'web-production-2' });
    assert.deepEqual(restartTarget('my-api-dev-12', 'dev'), { service: 'my-api', instance: 'my-api-dev-12' });
    // Another environment's slot, a suffix that is not a number, nothing before the suffix: a service name.
    assert.deepEqual(restartTarget('web-production-2', 'dev'), { service: 'web-production-2' });
    assert.deepEqual(restartTarget('web-dev-x', 'dev'), { service: 'web-dev-x' });
    assert.deepEqual(restartTarget('-dev-1', 'dev'), { service: '-dev-1' });
  });
});
