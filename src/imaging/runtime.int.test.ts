/** Integration: the dynamic part — runtime scripts at container start, init and signals. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../config/project.js';
import { openStore, closeStore } from '../store/db.js';
import { startTestContainer } from '../testing/container.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { sleep } from '../time.js';
import { buildProject } from './builder.js';

describe('runtime scripts and the init process', () => {
  let fixture: Fixture;
  const tags = new Map<string, string>();

  before(async () => {
    const root = await tinyRootTarball();
    fixture = await makeFixture({
      base: {
        settings: { root: { tarball: root } },
        runtime: '#!/bin/sh\necho "runtime base: service=$BERTH_SERVICE env=$BERTH_ENV instance=$BERTH_INSTANCE"\necho GREETING=from-base >> "$BERTH_RUNTIME_ENV"\n',
      },
      mid: { settings: { from: 'base' }, runtime: '#!/bin/sh\necho "runtime mid"\n' },
      app: {
        settings: { from: 'mid', command: ['sh', '-c', 'echo "service started: $GREETING"; trap "echo got SIGTERM; exit 0" TERM; while true; do sleep 0.2; done'] },
        runtime: '#!/bin/sh\necho "runtime app"\n',
      },
      broken: { settings: { from: 'mid', command: ['sh', '-c', 'echo service must not start'] }, runtime: '#!/bin/sh\necho "runtime broken"\nexit 3\n' },
    });
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
    assert.deepEqual(summary.failed, []);
    for (const image of summary.built) tags.set(image.name, image.tag);
  });
  after(() => fixture.cleanup());

  const start = (image: string, suffix: string) =>
    startTestContainer(fixture.engine, {
      project: fixture.name,
      service: image,
      environment: 'test',
      instance: `${fixture.name}-${suffix}`,
      image: tags.get(image)!,
      stopGraceSeconds: 10,
    });

  /** The container's logs once they have `text`; fails, showing them, only when they never do (a generous deadline). */
  async function logsUntil(id: string, text: string): Promise<string> {
    const deadline = Date.now() + 120_000;
    let logs = '';
    while (Date.now() < deadline) {
      logs = await fixture.engine.containers.logs(id);
      if (logs.includes(text)) return logs;
      await sleep(200);
    }
    assert.fail(`the container never logged "${text}" within 2 minutes; its logs:\n${logs}`);
  }

  it('runs the ancestors\' runtime scripts in order, base first, then the service with their context', async () => {
    const state = await start('app', 'order');
    const logs = await logsUntil(state.id, 'service started');
    const lines = logs.split('\n').filter((l) => l.startsWith('runtime') || l.startsWith('service'));
    assert.deepEqual(lines, [
      `runtime base: service=app env=test instance=${fixture.name}-order`,
      'runtime mid',
      'runtime app',
      'service started: from-base',
    ]);
  });

  it('stops the container at the first failing runtime script, naming it and its exit code', async () => {
    const state = await start('broken', 'broken');
    const exitCode = await fixture.engine.containers.wait(state.id);
    const logs = await fixture.engine.containers.logs(state.id);
    assert.equal(exitCode, 3);
    assert.match(logs, /berth: runtime script images\/broken\/runtime\.sh failed with exit code 3; stopping the container/);
    assert.doesNotMatch(logs, /service must not start/);
  });

  it('delivers SIGTERM to the service on stop, which exits by itself within the grace period', async () => {
    const state = await start('app', 'signal');
    await logsUntil(state.id, 'service started');
    await fixture.engine.containers.stop(state.id, 60);
    const after = await fixture.engine.containers.inspect(state.id);
    const logs = await fixture.engine.containers.logs(state.id);
    assert.match(logs, /got SIGTERM/);
    // Its own exit 0 after the trap; a service that missed the signal would have been killed at the end of the grace period (137).
    assert.equal(after!.exitCode, 0);
  });
});
