/** How a request reads in the audit log: its action, its target and its outcome. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actionOf, outcomeOf, targetOf } from './audit-hook.js';

describe('the audit entry of a request', () => {
  it('names the action of a known route, with its parameters, and falls back to the method and route', () => {
    assert.equal(actionOf('POST', '/v1/services/:service/promotions', { service: 'web' }), 'promote');
    assert.equal(actionOf('POST', '/v1/services/:service/canary/:decision', { service: 'web', decision: 'abort' }), 'canary abort');
    assert.equal(actionOf('DELETE', '/v1/tokens/:name', { name: 'ci' }), 'token revoke');
    assert.equal(actionOf('PUT', '/v1/services/:service/secrets/:name', { service: 'web', name: 'DB' }), 'secret set DB');
    assert.equal(actionOf('PATCH', '/v1/hosts/:host', { host: 'h1' }), 'PATCH /v1/hosts/:host');
    assert.equal(actionOf('POST', '/v1/services/:service/restarts', { service: 'web' }), 'restart');
    assert.equal(actionOf('POST', '/v1/hosts/:host/drain', { host: 'h1' }), 'host drain');
  });

  it('names the target from the route parameters and the body', () => {
    assert.equal(targetOf('/v1/services/:service/promotions', { service: 'web' }, { to: 'production' }), 'web in production');
    assert.equal(targetOf('/v1/services/:service/releases', { service: 'web' }, { environment: 'dev' }), 'web in dev');
    assert.equal(targetOf('/v1/services/:service/releases', { service: 'web' }, {}), 'web');
    assert.equal(targetOf('/v1/rollouts/:id/cancel', { id: 12 }, {}), 'rollout #12');
    assert.equal(targetOf('/v1/approvals/:id/approve', { id: '3' }, {}), 'approval #3');
    assert.equal(targetOf('/v1/tokens', {}, { name: 'ci-dev', role: 'deployer' }), 'token ci-dev');
    assert.equal(targetOf('/v1/tokens/:name', { name: 'ci-dev' }, {}), 'token ci-dev');
    assert.equal(targetOf('/v1/config', {}, { files: {} }), 'config');
    assert.equal(targetOf('/v1/services/:service/restarts', { service: 'web' }, { environment: 'dev', instance: 'web-dev-2' }), 'web-dev-2 in dev');
    assert.equal(targetOf('/v1/instances/:instance/moves', { instance: 'web-dev-2' }, { environment: 'dev', to: 'h2' }), 'web-dev-2 in dev');
    assert.equal(targetOf('/v1/hosts/:host/drain', { host: 'h1' }, {}), 'host h1');
    assert.equal(targetOf('/v1/services/:service/secrets/:name', { service: 'web', name: 'DB' }, {}, { env: 'dev' }), 'web in dev');
  });

  it('says how it ended: ok with the rollout or approval it started, refused or failed with the reason', () => {
    assert.equal(outcomeOf(202, { rollout: 5, events: '/v1/events?rollout=5' }), 'ok 202 rollout #5');
    assert.equal(outcomeOf(202, { approval: { id: 3, status: 'pending' } }), 'ok 202 approval #3');
    assert.equal(outcomeOf(201, undefined), 'ok 201');
    assert.equal(outcomeOf(403, { error: { kind: 'forbidden', message: 'token eyes may not …' } }), 'refused 403 token eyes may not …');
    assert.equal(outcomeOf(401, undefined), 'refused 401');
    assert.equal(outcomeOf(503, { error: { kind: 'unavailable', message: 'host down' } }), 'failed 503 host down');
    assert.equal(outcomeOf(400, { error: { kind: 'invalid', message: 'x'.repeat(400) } }), `refused 400 ${'x'.repeat(300)}…`);
  });
});
