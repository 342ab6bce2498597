/**
 * Integration: bad input and failures around the real registry, each a clear
 * error with what to do, and garbage collection interrupted or refused at its
 * steps always leaving the registry writable with nothing protected deleted.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../config/project.js';
import { BerthError } from '../errors.js';
import { pushesTo } from '../store/pushes.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { readMaintenance } from './maintenance.js';
import { registryDown, registryStatus, registryTarget, registryUp, runningRegistry } from './process.js';
import { build, freePort, gc, pullAndVerify, push, target, withStore } from './testing.js';

/** Runs `work`, expects a BerthError, and returns it. */
async function rejection(work: () => Promise<unknown>): Promise<BerthError> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof BerthError, `expected a BerthError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

const everything = (e: BerthError) => [e.message, e.fix ?? '', ...e.lines].join('\n');

describe('registry bad input: clear errors with what to do', () => {
  const fixtures: Fixture[] = [];
  const servers: (Server | NetServer)[] = [];
  const project = async (registry: Record<string, unknown>, env: Record<string, string> = {}) => {
    const fixture = await makeFixture({ base: { settings: { root: { tarball: await tinyRootTarball() } } } }, { registry });
    Object.assign(fixture.env, env);
    fixtures.push(fixture);
    return fixture;
  };
  after(async () => {
    for (const s of servers) s.close();
    for (const f of fixtures) {
      await registryDown(target(f)).catch(() => {});
      await f.cleanup();
    }
  });

  it('a taken port', async () => {
    const port = await freePort();
    const holder = createServer();
    servers.push(holder);
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port }, resolve));
    const e = await rejection(async () => registryUp(target(await project({ listen: `127.0.0.1:${port}` }))));
    assert.equal(e.kind, 'conflict');
    assert.equal(e.message, `port ${port} on 127.0.0.1 is taken by another program, so the registry cannot listen on 127.0.0.1:${port}`);
    assert.match(e.fix!, /set registry\.listen in berth\.yaml to a free port/);
  });

  it('an unwritable storage folder', async () => {
    const fixture = await project({ listen: `127.0.0.1:${await freePort()}`, storage: { filesystem: { path: 'berth.yaml/data' } } });
    const e = await rejection(() => registryUp(target(fixture)));
    assert.equal(e.kind, 'forbidden');
    assert.match(e.message, /^the registry's storage .*berth\.yaml\/data is not writable \(ENOTDIR\)$/);
    assert.match(e.fix!, /registry\.storage\.filesystem\.path/);
  });

  it('a config the registry rejects: its own words, and where to fix it; nothing left running', async () => {
    const fixture = await project({ listen: `127.0.0.1:${await freePort()}`, tls: { cert: 'cert.pem', key: 'key.pem' } });
    fixture.write('cert.pem', 'not a certificate\n');
    fixture.write('key.pem', 'not a key\n');
    const e = await rejection(() => registryUp(target(fixture)));
    assert.equal(e.kind, 'failed');
    assert.equal(e.message, 'the registry exited right after it started (its config or files are wrong)');
    assert.ok(e.lines.some((l) => /PEM|certificate|tls/i.test(l)), e.lines.join('\n'));
    assert.match(e.fix!, /correct the registry: settings in .*berth\.yaml/);
    assert.equal(runningRegistry(target(fixture).paths), undefined);
  });

  it('an unreachable S3 endpoint, without printing the keys', async () => {
    const closed = await freePort();
    const fixture = await project(
      { listen: `127.0.0.1:${await freePort()}`, storage: { s3: { endpoint: `http://127.0.0.1:${closed}`, bucket: 'images', access_key: { env: 'T_AK' }, secret_key: { env: 'T_SK' } } } },
      { T_AK: 'AKIATESTACCESSKEY', T_SK: 'test-secret-key-value' },
    );
    const e = await rejection(() => registryUp(target(fixture)));
    assert.equal(e.kind, 'unavailable');
    assert.match(e.message, new RegExp(`^the registry started but cannot use its S3 storage \\(http://127.0.0.1:${closed}, bucket images\\)`));
    assert.match(e.fix!, /endpoint answers, the bucket exists and the access and secret keys are right/);
    assert.ok(e.lines.some((l) => l.includes('connection refused')), e.lines.join('\n'));
    assert.ok(!everything(e).includes('AKIATESTACCESSKEY') && !everything(e).includes('test-secret-key-value'));
    assert.equal(runningRegistry(target(fixture).paths), undefined);
  });

  it('wrong S3 credentials (an S3 endpoint that refuses them), without printing the keys', async () => {
    const s3 = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(403, { 'Content-Type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The access key you provided does not exist.</Message></Error>');
    });
    servers.push(s3);
    const s3Port = await freePort();
    await new Promise<void>((resolve) => s3.listen(s3Port, '127.0.0.1', resolve));
    const fixture = await project(
      { listen: `127.0.0.1:${await freePort()}`, storage: { s3: { endpoint: `http://127.0.0.1:${s3Port}`, bucket: 'images', access_key: { env: 'T_AK' }, secret_key: { env: 'T_SK' } } } },
      { T_AK: 'AKIAWRONGKEY', T_SK: 'wrong-secret-value' },
    );
    const e = await rejection(() => registryUp(target(fixture)));
    assert.equal(e.kind, 'unavailable');
    assert.match(e.message, /cannot use its S3 storage/);
    assert.ok(e.lines.some((l) => l.includes('InvalidAccessKeyId')), e.lines.join('\n'));
    assert.ok(!everything(e).includes('AKIAWRONGKEY') && !everything(e).includes('wrong-secret-value'), everything(e));
  });

  it('an S3 key named but not set', async () => {
    const fixture = await project({ listen: `127.0.0.1:${await freePort()}`, storage: { s3: { endpoint: 'http://127.0.0.1:9', bucket: 'b', access_key: { env: 'T_UNSET_AK' }, secret_key: { file: 'sk' } } } });
    const e = await rejection(() => registryUp(target(fixture)));
    assert.equal(e.message, 'registry.storage.s3.access_key: the environment variable T_UNSET_AK is not set');
  });
});

describe('push and GC failures: retried, then clear; nothing half-recorded; the registry always writable again', () => {
  let fixture: Fixture;
  let digest: string;
  before(async () => {
    const root = await tinyRootTarball();
    fixture = await makeFixture(
      { base: { settings: { root: { tarball: root } } }, app: { settings: { from: 'base' }, static: '#!/bin/sh\necho one > /one\n' } },
      { registry: { listen: `127.0.0.1:${await freePort()}` }, retention: { keep_last: 1, keep_younger_than: '0s' } },
    );
  });
  after(async () => {
    await registryDown(target(fixture)).catch(() => {});
    await fixture.cleanup();
  });

  it('an image that was never built', async () => {
    const e = await rejection(() => push(fixture, { only: ['app'] }));
    assert.equal(e.kind, 'not-found');
    assert.equal(e.message, 'not built: base, app (Berth pushes only the current build of each image)');
    assert.deepEqual(e.lines, ['base: never built', 'app: never built']);
    assert.equal(e.fix, 'run "berth build base app", then push again');
  });

  it('the registry not running', async () => {
    assert.deepEqual((await build(fixture)).failed, []);
    const e = await rejection(() => push(fixture));
    assert.equal(e.kind, 'unavailable');
    assert.match(e.message, /^the registry at 127\.0\.0\.1:\d+ is not running$/);
    assert.equal(e.fix, 'start it with "berth registry up", then push again');
    const g = await rejection(() => gc(fixture));
    assert.equal(g.kind, 'unavailable');
    assert.match(g.fix!, /berth registry up/);
  });

  it('the registry going away during a push: retried with backoff, then a clear error, nothing recorded', async () => {
    await registryUp(target(fixture));
    const waits: number[] = [];
    const summary = await push(fixture, {
      retryForMs: 2500,
      onEvent: (e) => {
        if (e.type === 'plan') process.kill(runningRegistry(target(fixture).paths)!.pid, 'SIGKILL');
        if (e.type === 'wait') waits.push(e.delayMs);
      },
    });
    assert.deepEqual(summary.pushed, []);
    assert.equal(summary.failed.length, 1);
    assert.equal(summary.failed[0]!.image, 'base');
    assert.match(summary.failed[0]!.message, /^gave up pushing base: the registry at 127\.0\.0\.1:\d+ kept refusing or was away: /);
    assert.match(summary.failed[0]!.fix!, /berth registry status/);
    assert.deepEqual(summary.blocked, [{ image: 'app', because: 'base' }]);
    assert.ok(waits.length >= 2 && waits[1]! > waits[0]!, `backoff grows: ${waits.join(', ')}`);
    await withStore(fixture, async (_, db) => assert.deepEqual(await pushesTo(db, target(fixture).address), []));
  });

  it('GC interrupted after any step leaves the registry writable, and deletes nothing protected', async () => {
    await registryDown(target(fixture));
    await registryUp(target(fixture));
    const first = await push(fixture);
    assert.deepEqual(first.failed, []);
    digest = first.pushed.find((p) => p.name === 'app')!.digest;
    const abort = new AbortController();
    const e = await rejection(() => gc(fixture, { signal: abort.signal, onStep: (text) => text.startsWith('restarting the registry read-only') && abort.abort() }));
    assert.match(e.message, /^garbage collection interrupted before: running the registry's garbage collection as a dry run$/);
    await expectWritableAndIntact();
  });

  it("the registry's own collection failing: writable again, nothing protected deleted", async () => {
    fixture.write('fake-registry.sh', `#!/bin/sh\nif [ "$1" = garbage-collect ] && [ "$2" != --dry-run ]; then echo "simulated failure" >&2; exit 3; fi\nexec /usr/bin/docker-registry "$@"\n`, 0o755);
    const e = await rejection(() => gc(fixture, { registryProgram: join(fixture.dir, 'fake-registry.sh') }));
    assert.equal(e.message, "the registry's garbage collection failed (exit 3)");
    assert.deepEqual(e.lines, ['simulated failure']);
    await expectWritableAndIntact();
  });

  it('aborts before collecting when the dry run would take a blob of a protected image', async () => {
    const manifest = await target(fixture).client.manifest('berth/app', digest);
    const layer = manifest!.blobs.at(-1)!.digest;
    fixture.write('fake-registry.sh', `#!/bin/sh\nif [ "$1" = garbage-collect ]; then /usr/bin/docker-registry "$@"; s=$?; echo "blob eligible for deletion: ${layer}"; [ "$2" = --dry-run ] || echo REAL-GC-RAN >&2; exit $s; fi\nexec /usr/bin/docker-registry "$@"\n`, 0o755);
    const e = await rejection(() => gc(fixture, { registryProgram: join(fixture.dir, 'fake-registry.sh') }));
    assert.equal(e.message, "garbage collection aborted: the registry's collection would delete what Berth protects; nothing was collected");
    assert.deepEqual(e.lines, [`blob ${layer} of protected manifest berth/app@${digest} would be deleted`]);
    await expectWritableAndIntact();
  });

  it('a registry left read-only by a GC that died is reported, and "registry up" makes it writable', async () => {
    const t = target(fixture);
    await registryUp(t, { readOnly: true });
    fixture.write('.berth/registry/maintenance.json', JSON.stringify({ pid: 999_999_999, startedAt: Date.now(), step: 'gc' }));
    const status = await registryStatus(t);
    assert.equal(status.mode, 'read-only');
    assert.deepEqual(status.maintenance && { step: status.maintenance.step, interrupted: status.maintenance.interrupted }, { step: 'gc', interrupted: true });
    await registryUp(t);
    rmSync(t.paths.maintenance, { force: true });
    assert.equal((await registryStatus(t)).mode, 'writable');
  });

  async function expectWritableAndIntact() {
    const t = registryTarget(loadProject(fixture.dir, fixture.env), fixture.env);
    const status = await registryStatus(t);
    assert.equal(status.mode, 'writable');
    assert.equal(status.healthy, true);
    assert.equal(readMaintenance(t.paths.maintenance), undefined);
    await pullAndVerify(t.client, 'berth/app', digest);
    const again = await push(fixture);
    assert.deepEqual(again.failed, []);
  }
});
