/**
 * The server's pass that puts a warden on every host (ensureWardens), on FakeEngines: created once,
 * left alone (same container, no new token) while it runs the same image and spec, replaced when
 * its spec changes, and a host that does not answer reported without stopping the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listTokens } from '../store/tokens.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { ensureWardens } from './warden.js';
import { WARDEN_NAME } from './warden-spec.js';

describe('a warden on every host, idempotent', () => {
  let p: FakeProject;
  const ca = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';
  const options = (server = 'https://10.0.0.1:7878') => ({ image: 'berth-warden/warden:latest', server, ca, actor: 'server' });
  const wardenIds = async () => Promise.all(['h1', 'h2', 'h3'].map(async (h) => (await p.engines.get(h)!.containers.inspect(WARDEN_NAME))?.id));
  const liveHostTokens = async () => (await listTokens(p.db)).filter((t) => t.role === 'host' && t.revokedAt === null).map((t) => t.name).sort();

  before(async () => {
    p = await fakeProject('wardens-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock`, ...(name === 'h3' ? { socket: '/run/h3-engine/docker.sock' } : {}) })),
        services: { web: { image: 'web', ports: [8080] } },
        environments: { dev: { hosts: ['h1', 'h2', 'h3'] } },
      },
    });
    for (const engine of p.engines.values()) engine.addImage({ tags: ['berth-warden/warden:latest'], labels: { 'berth.role': 'warden' } });
  });
  after(async () => p.close());

  it('the first pass places one running warden per host, each with its own token', async () => {
    const placed = await ensureWardens(p.context, options());
    assert.deepEqual(placed.map((r) => [r.host, r.outcome]), [['h1', 'placed'], ['h2', 'placed'], ['h3', 'placed']]);
    for (const h of ['h1', 'h2', 'h3']) assert.equal((await p.engines.get(h)!.containers.inspect(WARDEN_NAME))?.running, true, h);
    assert.deepEqual(await liveHostTokens(), ['warden-h1', 'warden-h2', 'warden-h3']);
    const binds = ['h1', 'h2', 'h3'].map((h) => p.engines.get(h)!.containers.createdWith(WARDEN_NAME)?.HostConfig?.Binds);
    assert.deepEqual(binds, [['/run/berth-fake-h1.sock:/var/run/docker.sock'], ['/run/berth-fake-h2.sock:/var/run/docker.sock'], ['/run/h3-engine/docker.sock:/var/run/docker.sock']], "each mounts its host's own socket: the unix:// engine's path, or hosts[].socket");
  });

  it('a second pass with the same image and spec leaves every warden alone: same containers, no new token', async () => {
    const before = await wardenIds();
    const tokens = (await listTokens(p.db)).length;
    const placed = await ensureWardens(p.context, options());
    assert.deepEqual(placed.map((r) => r.outcome), ['kept', 'kept', 'kept']);
    assert.deepEqual(await wardenIds(), before);
    assert.equal((await listTokens(p.db)).length, tokens);
  });

  it('a changed spec (the server\'s URL) replaces each warden; a stopped warden is replaced too', async () => {
    const before = await wardenIds();
    const placed = await ensureWardens(p.context, options('https://10.0.0.2:7878'));
    assert.deepEqual(placed.map((r) => r.outcome), ['placed', 'placed', 'placed']);
    const after = await wardenIds();
    for (const [i, id] of after.entries()) assert.notEqual(id, before[i]);
    const h2 = p.engines.get('h2')!;
    await h2.containers.stop(after[1]!);
    const again = await ensureWardens(p.context, options('https://10.0.0.2:7878'));
    assert.deepEqual(again.map((r) => [r.host, r.outcome]), [['h1', 'kept'], ['h2', 'placed'], ['h3', 'kept']]);
    assert.equal((await h2.containers.inspect(WARDEN_NAME))?.running, true);
  });

  it('a host whose engine does not answer is reported as failed; the others are still checked', async () => {
    p.engines.get('h3')!.stopAnswering();
    const placed = await ensureWardens(p.context, options('https://10.0.0.3:7878'));
    assert.deepEqual(placed.map((r) => [r.host, r.outcome]), [['h1', 'placed'], ['h2', 'placed'], ['h3', 'failed']]);
    assert.ok(placed[2]!.error && placed[2]!.error.length > 0);
  });
});
