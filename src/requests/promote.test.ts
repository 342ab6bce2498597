/** The promote request: what the CLI builds and the route receives is checked once, here, before anything runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunContext } from '../runtime/context.js';
import { promote, promoteRequest } from './promote.js';

describe('promoteRequest', () => {
  it('takes what berth promote and the promotions route send, as it is', () => {
    const asked = { to: 'production', from: 'staging', canary: 0.1, watchMs: 30_000, manual: true, force: false, timeoutMs: 120_000 };
    assert.deepEqual(promoteRequest(asked), asked);
    assert.deepEqual(promoteRequest({ to: 'production' }), { to: 'production' });
  });

  it('refuses a request without a target, with an unknown field or a field of the wrong kind, naming it', () => {
    const cases: [unknown, string][] = [
      [undefined, 'a promote request is not an object'],
      [{ from: 'dev' }, 'a promote request names no target environment (to)'],
      [{ to: 'production', canaryShare: 0.1 }, 'a promote request has unknown fields: canaryShare'],
      [{ to: 'production', canary: 1.5 }, 'a promote request has a canary share 1.5 outside (0, 1]'],
      [{ to: 'production', canary: 0 }, 'a promote request has a canary share 0 outside (0, 1]'],
      [{ to: 'production', watchMs: 1.5 }, 'a promote request has a watchMs that is not a whole number of milliseconds'],
      [{ to: 'production', force: 'yes' }, 'a promote request has a force that is not true or false'],
      [{ to: 'production', from: 3 }, 'a promote request has a from that is not an environment name'],
    ];
    for (const [value, message] of cases) assert.throws(() => promoteRequest(value), { kind: 'invalid', message }, JSON.stringify(value));
  });

  it('is checked by promote before the run is touched', async () => {
    const untouchable = new Proxy({}, { get: () => assert.fail('promote read the run before checking the request') }) as RunContext;
    await assert.rejects(promote(untouchable, 'web', { to: 'production', canary: 2 }), { kind: 'invalid', message: 'a promote request has a canary share 2 outside (0, 1]' });
  });
});
