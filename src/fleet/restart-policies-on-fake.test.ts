/**
 * The engine's restart policy of instances on two FakeEngines (h1, h2): `prod` runs on both, so a
 * host's instances can be moved off it and its engine must restart nothing; `dev` runs on h1 alone
 * and keeps berth.yaml's `restart`. Instances made by an older Berth (`unless-stopped` everywhere)
 * are set in place by settleRestartPolicies, never recreated; and when h1's engine goes down and
 * boots, it starts dev's instance again and none of prod's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { releaseService } from '../release/operations.js';
import { FakeDoor } from '../testing/fake-door.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { settleRestartPolicies } from './restart-policies.js';

describe('restart policies of instances in multi-host and single-host environments, on FakeEngines', () => {
  let p: FakeProject;
  const doors: Record<string, FakeDoor> = { dev: new FakeDoor(), prod: new FakeDoor() };

  before(async () => {
    p = await fakeProject('restart-policies-on-fake', {
      push: true,
      config: {
        project: 'shop',
        images: { web: { root: {} } },
        hosts: ['h1', 'h2'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
        services: { web: { image: 'web', ports: [8080], replicas: 2, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s', rollout: { batch_size: 2, drain: '0s' } } },
        pipeline: ['dev', 'prod'],
        environments: { dev: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1'], services: { web: { replicas: 1 } } }, prod: { network: 'nat', lb_address: '127.0.0.1', hosts: ['h1', 'h2'] } },
      },
    });
    for (const env of ['dev', 'prod']) assert.equal((await releaseService(p.context, 'web', env, { door: doors[env]!, timeoutMs: 10_000, image: 'berth/web:v1', force: env === 'prod' })).status, 'succeeded');
  });
  after(() => p.close());

  /** name → [host, state, policy, id, startedAt] of every instance. */
  const instances = async () => {
    const all: Record<string, [string, string, string, string, string]> = {};
    for (const [host, engine] of p.engines) {
      for (const id of await engine.containers.list(['berth.instance'])) {
        const c = (await engine.containers.inspect(id))!;
        all[c.name] = [host, c.status, c.restartPolicy, c.id, c.startedAt];
      }
    }
    return all;
  };
  const policies = async () => Object.fromEntries(Object.entries(await instances()).map(([name, [host, status, policy]]) => [name, [host, status, policy]]));

  it('a release makes prod\'s instances with restart policy no, and dev\'s (one host) with berth.yaml\'s unless-stopped', async () => {
    const seen = await policies();
    assert.deepEqual(seen['shop.web-dev-1'], ['h1', 'running', 'unless-stopped']);
    assert.deepEqual([seen['shop.web-prod-1']?.[2], seen['shop.web-prod-2']?.[2]], ['no', 'no']);
  });

  it('instances made by an older Berth get their engine\'s policy set in place: same containers, still running, each looked at once', async () => {
    for (const engine of p.engines.values()) for (const id of await engine.containers.list(['berth.instance'])) await engine.containers.setRestartPolicy(id, 'unless-stopped');
    const before = await instances();
    const done = new Set<string>();
    const report = await settleRestartPolicies(p.context, done);
    assert.deepEqual(report.set.map((s) => [s.container, s.from, s.to]).sort(), [
      ['shop.web-prod-1', 'unless-stopped', 'no'],
      ['shop.web-prod-2', 'unless-stopped', 'no'],
    ]);
    assert.deepEqual(report.failed, []);
    const now = await instances();
    for (const name of Object.keys(before)) assert.deepEqual([now[name]![3], now[name]![4], now[name]![1]], [before[name]![3], before[name]![4], 'running'], `${name}: the same container, never restarted`);
    assert.equal(now['shop.web-dev-1']![2], 'unless-stopped', 'a single-host environment keeps berth.yaml\'s restart');
    for (const engine of p.engines.values()) for (const id of await engine.containers.list(['berth.env=prod'])) await engine.containers.setRestartPolicy(id, 'always');
    assert.deepEqual((await settleRestartPolicies(p.context, done)).set, [], 'a container looked at once is not asked again');
    for (const engine of p.engines.values()) for (const id of await engine.containers.list(['berth.env=prod'])) await engine.containers.setRestartPolicy(id, 'no');
  });

  it('h1\'s engine goes down and boots: it starts dev\'s instance again, and not prod\'s (Berth\'s reconciler recreates that one)', async () => {
    const h1 = p.engines.get('h1')!;
    h1.goDown();
    h1.boot();
    const seen = await policies();
    const prodOnH1 = Object.entries(seen).filter(([name, [host]]) => name.startsWith('shop.web-prod-') && host === 'h1');
    assert.equal(prodOnH1.length, 1, JSON.stringify(seen));
    assert.deepEqual(prodOnH1[0]![1], ['h1', 'exited', 'no']);
    assert.deepEqual(seen['shop.web-dev-1'], ['h1', 'running', 'unless-stopped']);
  });
});
