import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../store/releases.js';
import { interruptedLines } from './interrupt.js';

const plan = { target: 3, phase: 'forward', steps: [{ op: 'front-door' }, { op: 'drain', slots: ['web-production-1'] }, { op: 'replace', slots: ['web-production-1'] }, { op: 'converge', replicas: 1 }] };
const rollout: Rollout = { id: 12, service: 'web', environment: 'production', release: 3, previous: 2, kind: 'promote', forced: false, status: 'running', message: '', actor: 'ana', plan: JSON.stringify(plan), done: 2, startedAt: 0, finishedAt: null, evidence: '{}' };

describe('what Ctrl-C says about the rollout it stopped', () => {
  it('names the rollout, the step it stopped at, and the commands that resume or abandon it', () => {
    const lines = interruptedLines('SIGINT', rollout, ' -p /srv/app');
    assert.equal(lines[0], 'berth: SIGINT: rollout #12 (promote of web release 3 in production) stopped at step 3 of 4 (replace web-production-1); 2 step(s) done.');
    assert.ok(lines.some((l) => /resume it: run the same command again .* from step 3\)/.test(l)), lines.join('\n'));
    assert.ok(lines.includes('  or abandon it: berth rollout abandon 12 -p /srv/app (puts back what ran, ends the rollout, releases its lock)'), lines.join('\n'));
  });

  it('a rollback in progress says so', () => {
    const back = { ...rollout, plan: JSON.stringify({ ...plan, phase: 'rollback', target: 2 }) };
    assert.match(interruptedLines('SIGTERM', back, '')[0]!, /^berth: SIGTERM: .*, rolling back to release 2;/);
  });

  it('an open canary stays open, with the commands that decide it', () => {
    const lines = interruptedLines('SIGINT', { ...rollout, kind: 'canary', status: 'canary' }, '');
    assert.match(lines[0]!, /is an open canary; it stays as it is/);
    assert.match(lines[1]!, /berth canary promote web --env production, or berth canary abort web --env production/);
  });
});
