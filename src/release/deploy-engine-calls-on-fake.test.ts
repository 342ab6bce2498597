/**
 * How many times a deploy asks the engines what they run (issue 24): once per step per host, not once per
 * slot. A deploy over three hosts on FakeEngines lists each host's containers as often for 60 instances as
 * for 6, at most once per step (it listed every host once per slot: 64 times each, 192 list calls, for 60).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rolloutById } from '../store/releases.js';
import type { FakeEngine } from '../testing/fake-engine.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { deployService } from './deploy.js';

const configOf = (replicas: number) => ({
  project: 'shop',
  images: { web: { root: {} } },
  hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
  networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.79.0.0/24', gateway: '10.79.0.1', range: '10.79.0.10-10.79.0.200', quarantine: '0s' } },
  services: { web: { image: 'web', ports: [8080], replicas, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
  environments: { dev: { network: 'lan', hosts: ['h1', 'h2', 'h3'] } },
});

/** Counts the container lists each engine answers from now on. */
function countLists(engines: Map<string, FakeEngine>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [host, engine] of engines) {
    counts.set(host, 0);
    const summaries = engine.containers.summaries.bind(engine.containers);
    engine.containers.summaries = (filters) => {
      counts.set(host, counts.get(host)! + 1);
      return summaries(filters);
    };
  }
  return counts;
}

describe('a deploy over three hosts on FakeEngines', () => {
  const projects: FakeProject[] = [];
  after(async () => {
    for (const p of projects) await p.close();
  });

  async function deploy(replicas: number): Promise<{ lists: Map<string, number>; steps: number; running: number }> {
    const project = await fakeProject(`deploy-calls-${replicas}`, { config: configOf(replicas), push: true });
    projects.push(project);
    const lists = countLists(project.engines);
    const result = await deployService(project.context, 'web', 'dev', { image: 'berth/web:v1', timeoutMs: 10_000 });
    const steps = (JSON.parse((await rolloutById(project.db, result.deployment))!.plan) as { steps: unknown[] }).steps.length;
    return { lists, steps, running: (await project.containers('web')).filter((c) => c.running).length };
  }

  it('lists each host the same number of times for 60 instances as for 6, at most once per step', async () => {
    const six = await deploy(6);
    const sixty = await deploy(60);
    assert.equal(six.running, 6);
    assert.equal(sixty.running, 60);
    assert.equal(sixty.steps, six.steps, 'the same plan shape');
    assert.deepEqual(sixty.lists, six.lists);
    for (const [host, n] of sixty.lists) assert.ok(n <= sixty.steps, `${host}: ${n} container lists for ${sixty.steps} steps`);
  });
});
