/** A rollout's placement over a store and engines that answer as told (no Docker): what it asks, what it plans, how it fails. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { EnvironmentSpec, HostSpec, Project, ServiceSpec } from '../config/model.js';
import { exitCodes, isBerthError, unavailable } from '../errors.js';
import { openStore, type Store } from '../store/db.js';
import { saveSlot } from '../store/deployments.js';
import { markDraining } from '../store/hosts.js';
import type { RunContext } from './context.js';
import type { Hosts } from './hosts.js';
import { gatherInventory, SlotPlacer, type Inventory } from './placement.js';

const GIB = 1024 ** 3;

type Answer = { cpus: number; memoryBytes: number } | 'down';

function service(name: string, resources: ServiceSpec['resources'] = {}, labels?: Record<string, string>): ServiceSpec {
  return { name, resources, ...(labels ? { placement: { labels } } : {}) } as ServiceSpec;
}

const environment = (hosts: string[], services: EnvironmentSpec['services'] = {}): EnvironmentSpec => ({ name: 'prod', hosts, network: 'nat', services, lbAddress: '127.0.0.1', protected: false, approvalTimeoutMs: 86_400_000 });

describe('rollout placement', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function contextWith(answers: Record<string, Answer>, services: ServiceSpec[], labels: Record<string, Record<string, string>> = {}): Promise<{ context: RunContext; db: Store; asked: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-placement-'));
    dirs.push(dir);
    const db = await openStore(dir);
    const asked: string[] = [];
    const engineOf = (name: string) => ({
      apiVersion: async () => {
        if (answers[name] === 'down') throw unavailable(`cannot reach the Docker Engine at tcp://${name}:2376 (ECONNREFUSED) while trying to read the engine version`);
        return '1.41';
      },
      info: async () => {
        asked.push(name);
        const a = answers[name]!;
        if (a === 'down') throw unavailable(`cannot reach the Docker Engine at tcp://${name}:2376 (ECONNREFUSED) while trying to read the engine info`);
        return a;
      },
    });
    const hosts = { engine: engineOf, spec: (name: string): HostSpec => ({ name, engine: `tcp://${name}:2376`, insecure: false, labels: labels[name] ?? {} }) } as unknown as Hosts;
    const project = { services: new Map(services.map((s) => [s.name, s])) } as unknown as Project;
    return { context: { project, db, hosts, env: {} }, db, asked };
  }

  const slot = async (db: Store, svc: string, n: number, host: string) => await saveSlot(db, { environment: 'prod', slot: `${svc}-prod-${n}`, service: svc, ordinal: n, host, network: 'nat', hostPorts: {} });
  const hostsOf = (placer: SlotPlacer, slots: string[]) => slots.map((s) => placer.placement(s).host);

  it('asks no engine for its capacity when nothing reserves CPU or memory, and spreads over the environment in order', async () => {
    const api = service('api');
    const { context, asked } = await contextWith({ a: { cpus: 2, memoryBytes: GIB }, b: { cpus: 2, memoryBytes: GIB } }, [api]);
    const env = environment(['a', 'b']);
    const inventory = await gatherInventory(context, api, env);
    assert.deepEqual(asked, []);
    const placer = new SlotPlacer(inventory, api, env, new Map(), { replicas: 3 });
    assert.deepEqual(hostsOf(placer, ['api-prod-1', 'api-prod-2', 'api-prod-3']), ['a', 'b', 'a']);
  });

  it('counts what other services\' slots reserve, with their resources from berth.yaml, and gives a draining host nothing new', async () => {
    const api = service('api', { cpus: 1 });
    const db1 = service('db', { cpus: 3 });
    const { context, db, asked } = await contextWith({ a: { cpus: 4, memoryBytes: 8 * GIB }, b: { cpus: 4, memoryBytes: 8 * GIB }, c: { cpus: 4, memoryBytes: 8 * GIB } }, [api, db1]);
    await slot(db, 'db', 1, 'a');
    await markDraining(db, 'c', 'test');
    const env = environment(['a', 'b', 'c']);
    const inventory = await gatherInventory(context, api, env);
    assert.deepEqual(asked.sort(), ['a', 'b', 'c']);
    assert.deepEqual(inventory.hosts.map((h) => h.state), ['ready', 'ready', 'draining']);
    const placer = new SlotPlacer(inventory, api, env, new Map(), { replicas: 3 });
    assert.deepEqual(hostsOf(placer, ['api-prod-1', 'api-prod-2', 'api-prod-3']), ['b', 'a', 'b']);
  });

  it('marks a host whose engine is down unreachable and places around it; when every host is down, throws the engine\'s error', async () => {
    const api = service('api', { memoryBytes: GIB });
    const some = await contextWith({ a: 'down', b: { cpus: 2, memoryBytes: 4 * GIB } }, [api]);
    const inventory = await gatherInventory(some.context, api, environment(['a', 'b']));
    assert.equal(inventory.hosts[0]!.state, 'unreachable');
    assert.match(inventory.hosts[0]!.reason!, /tcp:\/\/a:2376/);
    assert.deepEqual(hostsOf(new SlotPlacer(inventory, api, environment(['a', 'b']), new Map(), { replicas: 2 }), ['api-prod-1', 'api-prod-2']), ['b', 'b']);
    const all = await contextWith({ a: 'down' }, [api]);
    await assert.rejects(gatherInventory(all.context, api, environment(['a'])), (e: unknown) => isBerthError(e) && e.kind === 'unavailable' && /read the engine version/.test(e.message));
  });

  it('moves pinned slots and those on a host being left, and keeps the others', () => {
    const api = service('api');
    const inventory: Inventory = { hosts: ['a', 'b', 'c', 'd'].map((name) => ({ name, cpus: 0, memoryBytes: 0, labels: {}, state: 'ready' as const })), reserved: [], apiVersions: new Map() };
    const saved = new Map(
      [['api-prod-1', 'a'], ['api-prod-2', 'a'], ['api-prod-3', 'b']].map(([s, h]) => [s!, { environment: 'prod', slot: s!, service: 'api', ordinal: Number(s!.at(-1)), host: h!, network: 'nat', hostPorts: {} }]),
    );
    const placer = new SlotPlacer(inventory, api, environment(['a', 'b', 'c', 'd']), saved, { replicas: 3, moves: new Map([['api-prod-3', 'c']]), leave: new Set(['a']) });
    assert.deepEqual(placer.decisions.map((d) => `${d.slot}@${d.host}:${d.reason}`), ['api-prod-1@b:leaving', 'api-prod-2@d:leaving', 'api-prod-3@c:pinned']);
  });

  it('places a slot beyond the plan (a surge or canary) on demand, spread against the planned ones, and keeps that answer', () => {
    const api = service('api');
    const inventory: Inventory = { hosts: ['a', 'b', 'c'].map((name) => ({ name, cpus: 0, memoryBytes: 0, labels: {}, state: 'ready' as const })), reserved: [], apiVersions: new Map() };
    const placer = new SlotPlacer(inventory, api, environment(['a', 'b', 'c']), new Map(), { replicas: 2 });
    assert.equal(placer.placement('api-prod-3').host, 'c');
    assert.equal(placer.placement('api-prod-3').host, 'c');
    assert.equal(placer.placement('api-prod-4').host, 'a');
  });

  it('applies the environment\'s labels over the service\'s', () => {
    const api = service('api', {}, { rack: 'r1', ssd: 'yes' });
    const inventory: Inventory = {
      hosts: [
        { name: 'a', cpus: 0, memoryBytes: 0, labels: { rack: 'r1', ssd: 'yes' }, state: 'ready' },
        { name: 'b', cpus: 0, memoryBytes: 0, labels: { rack: 'r2', ssd: 'yes' }, state: 'ready' },
      ],
      reserved: [],
      apiVersions: new Map(),
    };
    const env = environment(['a', 'b'], { api: { placement: { labels: { rack: 'r2' } } } });
    assert.deepEqual(hostsOf(new SlotPlacer(inventory, api, env, new Map(), { replicas: 2 }), ['api-prod-1', 'api-prod-2']), ['b', 'b']);
  });

  it('refuses an exhausted fleet as a conflict (exit code 4) naming what is short on which hosts, with a fix', () => {
    const api = service('api', { cpus: 2 }, { rack: 'r1' });
    const inventory: Inventory = {
      hosts: [
        { name: 'h1', cpus: 3, memoryBytes: 0, labels: { rack: 'r1' }, state: 'ready' },
        { name: 'h2', cpus: 8, memoryBytes: 0, labels: { rack: 'r1' }, state: 'draining' },
      ],
      reserved: [],
      apiVersions: new Map(),
    };
    assert.throws(
      () => new SlotPlacer(inventory, api, environment(['h1', 'h2']), new Map(), { replicas: 2 }),
      (e: unknown) =>
        isBerthError(e) &&
        e.kind === 'conflict' &&
        exitCodes[e.kind] === 4 &&
        e.message === 'service api in prod needs room for 1 more instance(s) with 2 CPU free on hosts with rack=r1; rack=r1 hosts: h1 (1 CPU free), h2 (draining)' &&
        e.fix === 'add hosts to environments.prod.hosts, free room on them (berth ps shows what runs where), lower services.api.resources, relax services.api.placement.labels (rack=r1), or ask for fewer instances',
    );
  });
});
