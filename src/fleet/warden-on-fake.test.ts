/**
 * A host's warden put on its FakeEngine: its container as warden-spec.ts makes it, its files copied
 * in (the token only there, never in its environment or command), started; a second one replaces
 * the first and the first's token stops working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from '../access/tokens.js';
import { listTokens } from '../store/tokens.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { ensureWarden } from './warden.js';

describe('a host\'s warden on its FakeEngine', () => {
  let p: FakeProject;
  let image = '';
  const options = () => ({ image, server: 'https://10.0.0.1:7878', ca: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n', actor: 'admin' });

  before(async () => {
    p = await fakeProject('warden-on-fake', {
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080] } },
        environments: { dev: { hosts: ['h1', 'h2'] } },
      },
    });
    image = p.engines.get('h2')!.addImage({ tags: ['berth-warden/warden:latest'], labels: { 'berth.role': 'warden' } });
  });
  after(async () => p.close());

  it('runs on h2 with its loop, its own token and the CA as files; the token is in none of its settings', async () => {
    const engine = p.engines.get('h2')!;
    const { id, token } = await ensureWarden(p.context, 'h2', options());
    assert.equal(token, 'warden-h2');
    const state = (await engine.containers.inspect(id))!;
    assert.deepEqual([state.name, state.running, state.labels['berth.warden']], ['berth-warden', true, 'h2']);
    const secret = (await engine.containers.getArchive(id, '/run/berth-warden/token')).toString('latin1');
    assert.match(secret, /berth_[A-Za-z0-9_-]{43}/);
    const value = /berth_[A-Za-z0-9_-]{43}/.exec(secret)![0];
    assert.equal((await authenticate(p.db, `Bearer ${value}`)).name, 'warden-h2', 'the file holds the token the server knows for h2');
    assert.ok(!JSON.stringify(state).includes(value), 'not in the inspect output');
    const config = await engine.containers.processConfig(id);
    assert.ok(!JSON.stringify(config).includes(value), 'not in its environment');
    assert.match((await engine.containers.getArchive(id, '/run/berth-warden/warden.sh')).toString('latin1'), /stop_all/);
    assert.deepEqual(await p.engines.get('h1')!.containers.list([]), [], 'nothing on h1');
  });

  it('a second warden replaces the first, and the first\'s token is revoked', async () => {
    const engine = p.engines.get('h2')!;
    const { id } = await ensureWarden(p.context, 'h2', options());
    assert.deepEqual(await engine.containers.list([]), [id]);
    const hostTokens = (await listTokens(p.db)).filter((t) => t.role === 'host');
    assert.deepEqual(hostTokens.map((t) => [t.envs, t.revokedAt === null ? 'live' : 'revoked']), [[['h2'], 'revoked'], [['h2'], 'live']]);
    assert.match(hostTokens[1]!.name, /^warden-h2-[0-9a-z]+$/);
  });
});
