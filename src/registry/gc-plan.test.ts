import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gcViolations, parseRegistryGc, planGc, type GcPlanInput } from './gc-plan.js';
import type { RetentionDecision } from './retention.js';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const decision = (image: string, key: string, keep: boolean, reasons: string[] = keep ? ['current build'] : []): RetentionDecision => ({ image, key, builtAt: 0, keep, reasons });
const push = (image: string, key: string, digest: string) => ({ repository: `berth/${image}`, tag: key.slice(0, 12), digest, image, key });

function input(overrides: Partial<GcPlanInput> = {}): GcPlanInput {
  return {
    pushes: [push('app', 'aaaa1111aaaa1111', d(1)), push('app', 'bbbb2222bbbb2222', d(2)), push('app', 'cccc3333cccc3333', d(3))],
    retention: [decision('app', 'aaaa1111aaaa1111', false), decision('app', 'bbbb2222bbbb2222', false), decision('app', 'cccc3333cccc3333', true)],
    refs: [],
    present: new Set([`berth/app@${d(1)}`, `berth/app@${d(2)}`, `berth/app@${d(3)}`]),
    tags: new Map([['berth/app', new Map([['aaaa1111aaaa', d(1)], ['bbbb2222bbbb', d(2)], ['cccc3333cccc', d(3)]])]]),
    ...overrides,
  };
}

describe('GC plan', () => {
  it('deletes expired builds by digest and protects the kept ones, each with a reason', () => {
    const plan = planGc(input());
    assert.deepEqual(plan.delete.map((m) => [m.digest, m.tags]), [[d(1), ['aaaa1111aaaa']], [d(2), ['bbbb2222bbbb']]]);
    assert.match(plan.delete[0]!.reason, /^expired: app:aaaa1111aaaa is neither current, recent nor young/);
    assert.deepEqual(plan.protected, [{ repository: 'berth/app', digest: d(3), reasons: ['app:cccc3333cccc current build'], present: true }]);
    assert.deepEqual(plan.skipped, []);
    assert.deepEqual(plan.gone, []);
  });

  it('keeps digests that a deployment, rollback or pin refers to, even when retention lets them go', () => {
    const refs = [
      { repository: 'berth/app', digest: d(1), kind: 'deployed', environment: 'production', service: 'web' },
      { repository: 'berth/app', digest: d(1), kind: 'rollback', environment: 'production', service: 'web' },
    ];
    const plan = planGc(input({ refs }));
    assert.deepEqual(plan.delete.map((m) => m.digest), [d(2)]);
    assert.deepEqual(plan.protected.find((p) => p.digest === d(1))!.reasons, ['deployed (service web in production)', 'rollback (service web in production)']);
  });

  it('protects a ref that Berth never pushed (and reports it missing when the registry lacks it)', () => {
    const plan = planGc(input({ refs: [{ repository: 'berth/other', digest: d(9), kind: 'pinned', environment: '', service: '' }] }));
    assert.deepEqual(plan.protected.find((p) => p.digest === d(9)), { repository: 'berth/other', digest: d(9), reasons: ['pinned'], present: false });
  });

  it('skips an expired digest that another tag still points at (DELETE would untag it)', () => {
    const tags = new Map([['berth/app', new Map([['aaaa1111aaaa', d(1)], ['release-1', d(1)], ['bbbb2222bbbb', d(2)], ['cccc3333cccc', d(3)]])]]);
    const plan = planGc(input({ tags }));
    assert.deepEqual(plan.delete.map((m) => m.digest), [d(2)]);
    assert.deepEqual(plan.skipped, [{ repository: 'berth/app', digest: d(1), reason: 'tag "release-1" still points at it; deleting by digest would remove that tag too' }]);
  });

  it('never deletes by tags alone: manifests Berth has no push record of are left alone', () => {
    const tags = new Map([['berth/app', new Map([['aaaa1111aaaa', d(1)], ['bbbb2222bbbb', d(2)], ['cccc3333cccc', d(3)], ['foreign', d(7)]])]]);
    const plan = planGc(input({ tags, present: new Set([`berth/app@${d(1)}`, `berth/app@${d(2)}`, `berth/app@${d(3)}`, `berth/app@${d(7)}`]) }));
    assert.ok(!plan.delete.some((m) => m.digest === d(7)));
  });

  it('keeps a digest shared by a kept and an expired build', () => {
    const pushes = [push('app', 'aaaa1111aaaa1111', d(1)), push('app', 'cccc3333cccc3333', d(1))];
    const plan = planGc(input({ pushes, tags: new Map([['berth/app', new Map([['aaaa1111aaaa', d(1)], ['cccc3333cccc', d(1)]])]]) }));
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.protected.map((p) => p.digest), [d(1)]);
  });

  it('keeps pushes whose build has no record, and forgets records of manifests already gone', () => {
    const plan = planGc(input({ retention: [decision('app', 'bbbb2222bbbb2222', false), decision('app', 'cccc3333cccc3333', true)], present: new Set([`berth/app@${d(1)}`, `berth/app@${d(3)}`]) }));
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.gone, [{ repository: 'berth/app', digest: d(2) }]);
    assert.deepEqual(plan.protected.find((p) => p.digest === d(1))!.reasons, ['build app:aaaa1111aaaa has no build record']);
  });
});

const GC_OUTPUT = `berth/app
berth/app: marking manifest ${d(3)} 
berth/app: marking blob ${d(4)}
berth/app: marking blob ${d(5)}

3 blobs marked, 2 blobs and 0 manifests eligible for deletion
blob eligible for deletion: ${d(6)}
blob eligible for deletion: ${d(1)}
`;

describe("the registry's garbage collection output", () => {
  it('is parsed into marked and eligible digests', () => {
    const out = parseRegistryGc(GC_OUTPUT);
    assert.deepEqual([...out.marked], [d(3), d(4), d(5)]);
    assert.deepEqual([...out.eligible], [d(6), d(1)]);
    assert.deepEqual(out.summary, { marked: 3, blobs: 2, manifests: 0 });
  });

  it('is safe when every protected manifest is marked and none of its blobs is eligible', () => {
    assert.deepEqual(gcViolations(new Map([[d(3), { id: 'berth/app@3', blobs: [d(4), d(5)] }]]), parseRegistryGc(GC_OUTPUT)), []);
  });

  it('names each protected blob or manifest that would be lost', () => {
    const kept = new Map([
      [d(3), { id: 'berth/app@3', blobs: [d(4), d(6)] }],
      [d(8), { id: 'berth/app@8', blobs: [] }],
    ]);
    assert.deepEqual(gcViolations(kept, parseRegistryGc(GC_OUTPUT)), [`blob ${d(6)} of protected manifest berth/app@3 would be deleted`, 'protected manifest berth/app@8 would be deleted']);
  });
});
