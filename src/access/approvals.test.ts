/** Who may decide an approval, and when it may no longer be decided. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApprovalRecord } from '../store/approvals.js';
import { decisionRefusal, isExpired } from './approvals.js';

const now = Date.UTC(2026, 11, 2, 12);
const pending: ApprovalRecord = {
  id: 3,
  service: 'web',
  environment: 'production',
  request: { to: 'production' },
  requestedBy: 'ci-prod',
  status: 'pending',
  createdAt: now - 3_600_000,
  expiresAt: now + 3_600_000,
  decidedBy: null,
  decidedAt: null,
  rollout: null,
};
const prodDeployer = { name: 'alice', role: 'deployer' as const, envs: ['production'] };

describe('decisionRefusal', () => {
  it('lets a different token with rights on the environment approve or reject', () => {
    assert.equal(decisionRefusal(pending, prodDeployer, 'approve', now), undefined);
    assert.equal(decisionRefusal(pending, { name: 'root', role: 'admin', envs: [] }, 'reject', now), undefined);
  });

  it('refuses the token that asked, naming it', () => {
    const refusal = decisionRefusal(pending, { ...prodDeployer, name: 'ci-prod' }, 'approve', now);
    assert.equal(refusal?.kind, 'forbidden');
    assert.equal(refusal?.message, 'an approval needs a different token than the one that asked (ci-prod asked)');
    assert.equal(decisionRefusal(pending, { name: 'ci-prod', role: 'admin', envs: [] }, 'reject', now)?.kind, 'forbidden');
  });

  it('refuses a token without rights on that environment', () => {
    for (const token of [{ name: 'dev-ci', role: 'deployer' as const, envs: ['dev'] }, { name: 'eyes', role: 'viewer' as const, envs: [] }]) {
      const refusal = decisionRefusal(pending, token, 'approve', now);
      assert.equal(refusal?.kind, 'forbidden');
      assert.equal(refusal?.message, `token ${token.name} may not approve approval #3 (promote web to production): it has no rights on production`);
    }
  });

  it('refuses an expired approval as a conflict, from its expiry on', () => {
    assert.equal(isExpired(pending, pending.expiresAt - 1), false);
    assert.equal(isExpired(pending, pending.expiresAt), true);
    const refusal = decisionRefusal(pending, prodDeployer, 'approve', pending.expiresAt);
    assert.equal(refusal?.kind, 'conflict');
    assert.equal(refusal?.message, 'approval #3 (promote web to production) expired at 2026-12-02T13:00:00.000Z, unapproved');
    assert.equal(decisionRefusal({ ...pending, status: 'expired' }, prodDeployer, 'reject', now)?.kind, 'conflict');
  });

  it('refuses one decided already, saying by whom', () => {
    const refusal = decisionRefusal({ ...pending, status: 'approved', decidedBy: 'bob', decidedAt: now - 60_000, rollout: 12 }, prodDeployer, 'approve', now);
    assert.equal(refusal?.kind, 'conflict');
    assert.equal(refusal?.message, 'approval #3 (promote web to production) was approved already by bob at 2026-12-02T11:59:00.000Z');
    assert.equal(refusal?.fix, 'follow its rollout: berth rollout show 12');
  });
});
