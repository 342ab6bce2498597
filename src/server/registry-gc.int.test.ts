/**
 * berth registry gc through a real `berth server`, on a real registry that runs on its
 * machine against its state: a build pushed from the CLI's machine and released through
 * the server is protected by the server's release; --dry-run changes nothing; the real
 * collection restarts the registry read-only and back writable from the applied settings,
 * deletes nothing the server cannot show has expired, and verifies with a test push.
 * A deployer's token is refused 403.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../config/project.js';
import type { GcReport } from '../registry/gc.js';
import { registryDown, registryTarget, registryUp, runningRegistry, type RegistryTarget } from '../registry/process.js';
import { build, freePort, push } from '../registry/testing.js';
import { berthOn, showOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startTestServer, type TestServer } from '../testing/server.js';

const page = '#!/bin/sh\nmkdir -p /www\necho "hello" > /www/index.html\necho ok > /www/health.html\n';

describe('berth registry gc through a server', () => {
  let fixture: Fixture;
  let server: TestServer;
  let registry: RegistryTarget;
  let released: string;

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page },
      },
      {
        registry: { listen: `127.0.0.1:${await freePort()}` },
        services: { web: { image: 'web', ports: [8080], health: { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 }, stop_grace: '1s' } },
        environments: { dev: { network: 'nat', lb_address: '127.0.0.1' } },
        pipeline: ['dev'],
      },
    );
    server = await startTestServer(fixture.dir, fixture.env, ['--reconcile-interval', '0s']);
    // The registry of the server's machine, started against the server's state (as docs/server.md says to).
    const serverSide = { ...fixture.env, BERTH_STATE_DIR: server.stateDir };
    registry = registryTarget(loadProject(fixture.dir, serverSide), serverSide);
    await registryUp(registry);
    const applied = await berthOn(fixture, ['apply'], { env: server.envFor(fixture.env) });
    assert.equal(applied.code, 0, showOutcome(applied));
    assert.deepEqual((await build(fixture)).failed, []);
    const pushed = await push(fixture);
    assert.deepEqual(pushed.failed, []);
    released = pushed.pushed.find((p) => p.name === 'web')!.digest;
  });
  after(async () => {
    if (registry) await registryDown(registry).catch(() => {});
    await server?.stop();
    await fixture?.cleanup();
  });

  const gc = async (args: string[], token?: string) => berthOn(fixture, ['registry', 'gc', ...args], { env: server.envFor(fixture.env, token) });

  it('a release through the server protects its pushed digest; --dry-run deletes nothing', async () => {
    const release = await berthOn(fixture, ['release', 'web', '--env', 'dev'], { env: server.envFor(fixture.env) });
    assert.equal(release.code, 0, showOutcome(release));
    const dry = await gc(['--dry-run', '--json']);
    assert.equal(dry.code, 0, showOutcome(dry));
    const report = JSON.parse(dry.stdout) as GcReport;
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.plan.delete, []);
    const web = report.plan.protected.find((p) => p.digest === released);
    assert.ok(web?.present, JSON.stringify(report.plan.protected));
    assert.ok(web.reasons.some((r) => /^(released|deployed)/.test(r)), web.reasons.join('; '));
    const text = await gc(['--dry-run']);
    assert.equal(text.code, 0, showOutcome(text));
    assert.match(text.stdout, /^→ computing what to delete from Berth's reference database$/m);
    assert.match(text.stdout, /dry run: 0 manifest\(s\) would be deleted, \d+ protected; nothing was changed/);
  });

  it('the collection runs on the server: it restarts the registry writable from the applied settings and verifies', async () => {
    const before = runningRegistry(registry.paths)!;
    const real = await gc([]);
    assert.equal(real.code, 0, showOutcome(real));
    assert.match(real.stdout, /^→ restarting the registry read-only$/m);
    assert.match(real.stdout, /deleted 0 manifest\(s\); .* test push ok; in /);
    const after = runningRegistry(registry.paths);
    assert.ok(after && after.pid !== before.pid && !after.readOnly, 'restarted, writable');
    assert.equal((await registry.client.manifestDigest('berth/web', released))?.digest, released);
  });

  it("refuses a deployer's token 403", async () => {
    const created = await berthOn(fixture, ['token', 'create', '--name', 'ci', '--role', 'deployer'], { env: server.envFor(fixture.env) });
    assert.equal(created.code, 0, showOutcome(created));
    const refused = await gc(['--dry-run'], created.stdout.trim().split('\n').at(-1)!);
    assert.equal(refused.code, 6, showOutcome(refused));
    assert.match(refused.stderr, /may not POST \/v1\/registry\/gc: it lacks the role admin \(this token is a deployer\)/);
  });
});
