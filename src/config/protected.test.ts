/** environments.<env>.protected and approval_timeout, as loadProject reads and checks them. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { loadForTest, problemsOf } from './problems-for-test.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(environments: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-protected-test-'));
  dirs.push(dir);
  const write = (relative: string, content: string, mode = 0o644) => {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
  };
  write('berth.yaml', `project: shop\nimages:\n  base:\n    root: {}\nservices:\n  web:\n    image: base\nenvironments:\n${environments}`);
  write('images/base/static.sh', '#!/bin/sh\n', 0o755);
  return dir;
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
