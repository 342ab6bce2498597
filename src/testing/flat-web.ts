/**
 * The server tests' project: one busybox web service `web` (port 8080) on a flat network with a
 * bridge of its own (a random 10.x subnet), three replicas in dev behind a front door on 127.0.0.1,
 * and its builds, one per static.sh.
 *
 *   fixture = await flatWebFixture(HEALTH);
 *   images = await buildWebVersions(fixture, { A: webPage('A'), B: webPage('B') });
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadProject } from '../config/project.js';
import { buildProject } from '../imaging/builder.js';
import { closeStore, openStore } from '../store/db.js';
import { makeFixture, tinyRootTarball, type Fixture } from './fixture.js';
import { randomTestPrefix } from './test-subnet.js';

/** A static.sh whose page answers `hello <version>` and whose health page passes. */
export const webPage = (version: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${version}" > /www/index.html\necho ok > /www/health.html\n`;

export async function flatWebFixture(health: Record<string, unknown>): Promise<Fixture> {
  const prefix = randomTestPrefix();
  const bridge = `br${randomBytes(3).toString('hex')}`;
  return makeFixture(
    {
      base: { settings: { root: { tarball: await tinyRootTarball() } } },
      web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: webPage('A') },
    },
    {
      networks: { lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.60`, create_bridge: true, quarantine: '0s' } },
      services: { web: { image: 'web', ports: [8080], health, stop_grace: '1s', rollout: { batch_size: 1, max_unavailable: 1, drain: '2s' } } },
      environments: { dev: { network: 'lan', lb_address: '127.0.0.1', services: { web: { replicas: 3 } } } },
      pipeline: ['dev'],
    },
  );
}

/** Builds `web` once per static.sh, in order; each build's image ID by its name. */
export async function buildWebVersions<V extends string>(fixture: Fixture, scripts: Record<V, string>): Promise<Record<V, string>> {
  const images = {} as Record<V, string>;
  const db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
  try {
    for (const [version, script] of Object.entries(scripts) as [V, string][]) {
      fixture.write('images/web/static.sh', script, 0o755);
      const summary = await buildProject(loadProject(fixture.dir, fixture.env), fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
  } finally {
    await closeStore(db);
  }
  return images;
}
