import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusLines } from './status.js';

describe('berth status lines', () => {
  it('a table of what runs, then each drift with its kind', () => {
    const lines = statusLines({
      environments: [{ service: 'api', environment: 'prod', release: 3, replicas: 2, running: 1, healthy: 1, drift: [{ kind: 'missing', slot: 'api-prod-2', message: 'slot api-prod-2 has no container' }] }],
      drift: [
        { kind: 'host-unreachable', host: 'b', message: 'host b is unreachable: refused' },
        { kind: 'missing', service: 'api', environment: 'prod', slot: 'api-prod-2', message: 'slot api-prod-2 has no container' },
      ],
    });
    assert.deepEqual(lines, [
      'SERVICE  ENV   RELEASE  REPLICAS  RUNNING  HEALTHY  DRIFT\napi      prod  3        2         1        1        1',
      'drift (host-unreachable): host b is unreachable: refused',
      'drift (missing): slot api-prod-2 has no container',
    ]);
  });

  it('says when there is no drift, and when nothing runs', () => {
    assert.deepEqual(statusLines({ environments: [{ service: 'api', environment: 'dev', release: 1, replicas: 1, running: 1, healthy: 1, drift: [] }], drift: [] }).at(-1), 'no drift: everything runs as released');
    assert.match(statusLines({ environments: [], drift: [] })[0]!, /nothing runs yet/);
  });
});
