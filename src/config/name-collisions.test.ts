import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BerthErrors, type BerthError } from '../errors.js';
import { nameCollisions } from './name-collisions.js';
import { loadProject } from './project.js';

describe('service and environment names that would collide', () => {
  it('finds two pairs that make the same slots, and two that share a front door', () => {
    assert.deepEqual(nameCollisions(['web-prod', 'web'], ['eu', 'prod-eu']), [
      { first: { service: 'web-prod', environment: 'eu' }, second: { service: 'web', environment: 'prod-eu' }, name: 'web-prod-eu', what: 'slots' },
    ]);
    assert.deepEqual(nameCollisions(['c', 'b-c'], ['a-b', 'a']), [
      { first: { service: 'c', environment: 'a-b' }, second: { service: 'b-c', environment: 'a' }, name: 'a-b-c', what: 'front door' },
    ]);
  });

  it('finds none when every pair joins to its own name', () => {
    assert.deepEqual(nameCollisions(['web', 'web-api', 'api'], ['dev', 'production']), []);
  });

  it('refuses such a project at load, with the file, line and key of the service, and a fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-collide-'));
    try {
      mkdirSync(join(dir, 'images/base'), { recursive: true });
      writeFileSync(join(dir, 'images/base/static.sh'), '#!/bin/sh\n', { mode: 0o755 });
      const yaml = ['project: shop', 'images:', '  base:', '    root: {}', 'services:', '  web-prod:', '    image: base', '  web:', '    image: base', 'environments:', '  eu: {}', '  prod-eu: {}', ''];
      writeFileSync(join(dir, 'berth.yaml'), yaml.join('\n'));
      assert.throws(
        () => loadProject(dir, {}, dir),
        (error: unknown) => {
          const problems = error instanceof BerthErrors ? error.problems : [error as BerthError];
          assert.deepEqual(
            problems.map((p) => [p.message, p.fix]),
            [
              [
                'berth.yaml:8: services.web: service "web" in environment "prod-eu" and service "web-prod" in environment "eu" would have the same slots "web-prod-eu-<n>"',
                'rename one of these services or environments so that no service-environment pair joins to the same name',
              ],
            ],
          );
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
