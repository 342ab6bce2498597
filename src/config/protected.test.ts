/** environments.<env>.protected and approval_timeout, as loadProject reads and checks them. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { loadForTest, problemsOf, tempProjects } from './problems-for-test.js';

const projects = tempProjects('berth-protected-test-');
afterEach(() => projects.cleanup());

function project(environments: string): string {
  return projects.make({
    'berth.yaml': `project: shop\nimages:\n  base:\n    root: {}\nservices:\n  web:\n    image: base\nenvironments:\n${environments}`,
    'images/base/static.sh': ['#!/bin/sh\n', 0o755],
  });
}

describe('protected environments', () => {
  it('are not protected by default, with a 24h approval timeout', () => {
    const p = loadForTest(project('  dev: {}\n  production:\n    protected: true\n'));
    assert.equal(p.environments.get('dev')!.protected, false);
    assert.equal(p.environments.get('production')!.protected, true);
    assert.equal(p.environments.get('production')!.approvalTimeoutMs, 24 * 3_600_000);
  });

  it('read approval_timeout as a duration', () => {
    const p = loadForTest(project('  dev: {}\n  production:\n    protected: true\n    approval_timeout: 30m\n'));
    assert.equal(p.environments.get('production')!.approvalTimeoutMs, 30 * 60_000);
  });

  it('reject a bad protected, a bad or too short timeout, and a timeout without protection, at their lines', () => {
    assert.deepEqual(problemsOf(project('  dev:\n    protected: maybe\n')).map((p) => p.message), ['berth.yaml:10: environments.dev.protected: expected true or false, got the string "maybe"']);
    assert.deepEqual(problemsOf(project('  production:\n    protected: true\n    approval_timeout: soon\n')).map((p) => p.message), [
      'berth.yaml:11: environments.production.approval_timeout: expected a duration like "500ms", "2s", "5m", "1h" or "14d", got the string "soon"',
    ]);
    assert.deepEqual(problemsOf(project('  production:\n    protected: true\n    approval_timeout: 10s\n')), [
      { message: 'berth.yaml:11: environments.production.approval_timeout: must be at least 1m: an approval needs time for a second person', fix: 'use a duration like 30m, 24h or 3d' },
    ]);
    assert.deepEqual(problemsOf(project('  production:\n    approval_timeout: 1h\n')), [
      { message: 'berth.yaml:10: environments.production.approval_timeout: applies only to a protected environment', fix: 'add "protected: true" to this environment, or remove approval_timeout' },
    ]);
  });
});
