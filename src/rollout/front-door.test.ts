/** Computing a front door's spec reads only: the port is recorded once the front door runs on it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EnvironmentSpec, Project } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { FakeEngine } from '../testing/fake-engine.js';
import { openStore, closeStore } from '../store/db.js';
import { allFrontDoors, saveFrontDoorPort } from '../store/releases.js';
import { frontDoorFor, frontDoorSpecOf } from './front-door.js';

const environment: EnvironmentSpec = { name: 'dev', hosts: ['local'], network: 'nat', services: {}, lbAddress: '127.0.0.1', protected: false, approvalTimeoutMs: 86_400_000 };

function withRun(test: (run: RunContext) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-front-door-test-'));
    const db = await openStore(dir);
    try {
      const project = { name: 'shop', stateDir: dir, hosts: [] as Project['hosts'] } as Project;
      await test({ project, db, hosts: new Hosts(project, new FakeEngine()), env: {} });
    } finally {
      await closeStore(db);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("a front door's spec", () => {
  it('picks a free port for a service without one, and records nothing', withRun(async (run) => {
    const spec = await frontDoorSpecOf(run, 'web', environment);
    assert.equal(spec.bind.address, '127.0.0.1');
    assert.ok(spec.bind.port > 0);
    await frontDoorFor(run, { name: 'web' } as never, environment);
    assert.deepEqual(await allFrontDoors(run.db), []);
  }));

  it('keeps the recorded port, and lb_port wins over it', withRun(async (run) => {
    await saveFrontDoorPort(run.db, 'web', 'dev', '127.0.0.1', 40123);
    assert.equal((await frontDoorSpecOf(run, 'web', environment)).bind.port, 40123);
    const configured = { ...environment, services: { web: { lbPort: 40200 } } };
    assert.equal((await frontDoorSpecOf(run, 'web', configured)).bind.port, 40200);
    assert.deepEqual(await allFrontDoors(run.db), [{ service: 'web', environment: 'dev', address: '127.0.0.1', port: 40123 }]);
  }));
});
