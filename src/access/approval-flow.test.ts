/** The approval flow on a real store: asked, decided once, started or reopened, each change announced. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EnvironmentSpec } from '../config/model.js';
import type { Store } from '../store/db.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { approvalsNow, askApproval, decideOn, environmentOfApproval } from './approval-flow.js';

let db: Store;
tempStoreForFile('berth-approval-flow-', (opened) => (db = opened));

const production = { name: 'production', approvalTimeoutMs: 3_600_000 } as EnvironmentSpec;
const alice = { name: 'alice', role: 'deployer' as const, envs: ['production'] };

function sink() {
  const published: [string, { id: number; status: string; rollout: number | null }][] = [];
  return { published, publish: (type: string, data: unknown) => published.push([type, data as { id: number; status: string; rollout: number | null }]) };
}

describe('the approval flow', () => {
  it('asks: a pending approval of the request as asked, expiring after the environment’s timeout, announced', async () => {
    const events = sink();
    const now = Date.now();
    const view = await askApproval(db, events, { service: 'web', environment: production, request: { to: 'production', force: true }, requestedBy: 'ci-prod' }, now);
    assert.deepEqual({ ...view, id: 0 }, {
      id: 0, service: 'web', environment: 'production', requestedBy: 'ci-prod', status: 'pending', createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 3_600_000).toISOString(),
      decidedBy: null, decidedAt: null, rollout: null, request: { to: 'production', force: true },
    });
    assert.deepEqual(events.published.map(([type, data]) => [type, data.id]), [['approval-requested', view.id]]);
    assert.equal(await environmentOfApproval(db, view.id), 'production');
    assert.equal(await environmentOfApproval(db, 9999), undefined);
  });

  it('approves: starts the promotion, records its rollout and announces the approval', async () => {
    const events = sink();
    const asked = await askApproval(db, events, { service: 'web', environment: production, request: { to: 'production' }, requestedBy: 'ci-prod' });
    const outcome = await decideOn(db, events, { id: asked.id, decision: 'approve', decider: alice, by: 'alice' }, async (approval, started) => {
      assert.deepEqual(approval.request, { to: 'production' });
      return { answer: await started(41) };
    });
    assert.ok('started' in outcome);
    assert.deepEqual([outcome.started.answer.status, outcome.started.answer.rollout, outcome.started.answer.decidedBy], ['approved', 41, 'alice']);
    assert.deepEqual(events.published.map(([type]) => type), ['approval-requested', 'approval-approved']);
    await assert.rejects(decideOn(db, events, { id: asked.id, decision: 'approve', decider: { ...alice, name: 'bob' }, by: 'bob' }, async () => 'never'), { kind: 'conflict', message: /was approved already by alice/ });
  });

  it('reopens the approval when the promotion is refused before it starts, and rejects it later', async () => {
    const events = sink();
    const asked = await askApproval(db, events, { service: 'web', environment: production, request: { to: 'production' }, requestedBy: 'ci-prod' });
    await assert.rejects(decideOn(db, events, { id: asked.id, decision: 'approve', decider: alice, by: 'alice' }, async () => { throw new Error('no release of web runs in dev'); }), /no release of web runs in dev/);
    assert.equal((await approvalsNow(db, events)).find((a) => a.id === asked.id)?.status, 'pending');
    const outcome = await decideOn(db, events, { id: asked.id, decision: 'reject', decider: alice, by: 'alice' }, async () => assert.fail('a rejection starts nothing'));
    assert.ok('rejected' in outcome);
    assert.deepEqual([outcome.rejected.status, outcome.rejected.decidedBy], ['rejected', 'alice']);
    assert.deepEqual(events.published.map(([type]) => type), ['approval-requested', 'approval-rejected']);
  });

  it('refuses the token that asked, and an approval that does not exist', async () => {
    const events = sink();
    const asked = await askApproval(db, events, { service: 'web', environment: production, request: { to: 'production' }, requestedBy: 'alice' });
    await assert.rejects(decideOn(db, events, { id: asked.id, decision: 'approve', decider: alice, by: 'alice' }, async () => 'never'), { kind: 'forbidden', message: 'an approval needs a different token than the one that asked (alice asked)' });
    await assert.rejects(decideOn(db, events, { id: 9999, decision: 'approve', decider: alice, by: 'alice' }, async () => 'never'), { kind: 'not-found', message: 'approval #9999 does not exist' });
  });

  it('marks an approval past its time expired when the approvals are read, and announces it', async () => {
    const events = sink();
    const asked = await askApproval(db, events, { service: 'web', environment: production, request: { to: 'production' }, requestedBy: 'ci-prod' }, Date.now() - 2 * 3_600_000);
    const listed = await approvalsNow(db, events);
    assert.equal(listed.find((a) => a.id === asked.id)?.status, 'expired');
    assert.deepEqual(events.published.map(([type, data]) => [type, data.id]), [['approval-requested', asked.id], ['approval-expired', asked.id]]);
  });
});
