/** Who may do what: every role against every level, and a deployer's environments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Role } from '../store/tokens.js';
import { lacks, mayChange, type AccessLevel } from './roles.js';

describe('lacks (the role matrix)', () => {
  const allowed: Record<Role, AccessLevel[]> = { host: ['host'], viewer: ['read'], deployer: ['read', 'deploy'], admin: ['read', 'deploy', 'admin'] };
  for (const role of ['viewer', 'deployer', 'admin'] as const) {
    for (const level of ['read', 'deploy', 'admin'] as const) {
      const may = allowed[role].includes(level);
      it(`${role} ${may ? 'may' : 'may not'} call ${level} routes`, () => {
        const missing = lacks({ role, envs: [] }, { level });
        if (may) assert.equal(missing, undefined);
        else assert.match(missing ?? '', new RegExp(`^the role \\w+ \\(this token is a ${role}\\)$`));
      });
    }
  }

  it('a host token may renew its own host\'s lease and nothing else; no other token may', () => {
    const warden = { role: 'host' as const, envs: ['h1'] };
    assert.equal(lacks(warden, { level: 'host', environment: 'h1' }), undefined);
    assert.equal(lacks(warden, { level: 'host', environment: 'h2' }), 'rights on host h2 (this token speaks for h1)');
    for (const level of ['read', 'deploy', 'admin'] as const) assert.match(lacks(warden, { level }) ?? '', /^the role \w+ \(this token is a host\)$/);
    assert.equal(lacks({ role: 'admin', envs: [] }, { level: 'host', environment: 'h1' }), 'the role host (this token is a admin; only a host\'s warden renews its lease)');
  });

  it('names the role a request needs', () => {
    assert.equal(lacks({ role: 'viewer', envs: [] }, { level: 'deploy', environment: 'dev' }), 'the role deployer (this token is a viewer)');
    assert.equal(lacks({ role: 'deployer', envs: [] }, { level: 'admin' }), 'the role admin (this token is a deployer)');
  });

  it('limits a deployer to its environments, and not at all when it names none', () => {
    const dev = { role: 'deployer' as const, envs: ['dev', 'test'] };
    assert.equal(lacks(dev, { level: 'deploy', environment: 'dev' }), undefined);
    assert.equal(lacks(dev, { level: 'deploy', environment: 'production' }), 'rights on production (this token may deploy to dev, test)');
    assert.equal(lacks(dev, { level: 'read' }), undefined);
    assert.equal(lacks({ role: 'deployer', envs: [] }, { level: 'deploy', environment: 'production' }), undefined);
  });

  it('mayChange: a deployer of the environment or an admin, never a viewer', () => {
    assert.equal(mayChange({ role: 'deployer', envs: ['production'] }, 'production'), true);
    assert.equal(mayChange({ role: 'deployer', envs: ['dev'] }, 'production'), false);
    assert.equal(mayChange({ role: 'admin', envs: [] }, 'production'), true);
    assert.equal(mayChange({ role: 'viewer', envs: [] }, 'dev'), false);
  });
});
