/**
 * One suite, two front doors (the Hono pattern): the main commands run as the
 * real `berth` CLI in-process (no server) and through a real `berth server`,
 * each on a project of its own with the same content, on the real engine and
 * real HAProxy front doors. Each step must succeed the same way in both, and
 * at the end their answers (JSON, with ids, times, ports and addresses left
 * out) must be the same. Each step runs in both at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { openStore, closeStore } from '../store/db.js';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startTestServer, type TestServer } from '../testing/server.js';

const page = '#!/bin/sh\nmkdir -p /www\necho "hello" > /www/index.html\necho ok > /www/health.html\n';
const HEALTH = { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3 };
type Mode = 'in-process' | 'server';
const MODES: readonly Mode[] = ['in-process', 'server'];

async function project(): Promise<Fixture> {
  const fixture = await makeFixture(
    {
      base: { settings: { root: { tarball: await tinyRootTarball() } } },
      web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page },
    },
    {
      services: {
        web: { image: 'web', ports: [8080], health: HEALTH, stop_grace: '1s', rollout: { batch_size: 1, drain: '1s' } },
        // Run's path: deployed all at once, no front door.
        api: { image: 'web', ports: [8080], health: HEALTH, stop_grace: '1s' },
      },
      environments: { dev: { network: 'nat', lb_address: '127.0.0.1' }, test: { network: 'nat', lb_address: '127.0.0.1' } },
      pipeline: ['dev', 'test'],
    },
  );
  const db = await openStore(loadProject(fixture.dir, fixture.env).stateDir);
  try {
    const summary = await buildProject(loadProject(fixture.dir, fixture.env), fixture.engine, db, { env: fixture.env });
    assert.deepEqual(summary.failed, []);
  } finally {
    await closeStore(db);
  }
  return fixture;
}

/** What must be equal between the two front doors: ids, times, ports, addresses, digests and names of the project left out. */
function normalise(value: unknown, name: string): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v, name));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (/^(id|rollout|at|startedAt|finishedAt|createdAt|created|uptimeSeconds|ip|mac|ports|port|address|frontDoor|digest|imageId|containerId|name|by|actor|createdBy|health|restarts|rttMs|configVersion|durationMs|deployment|ms|image|repository|config)$/.test(k)) continue;
      out[k] = normalise(v, name);
    }
    return out;
  }
  return typeof value === 'string' ? value.split(name).join('<project>') : value;
}

describe('the main commands answer the same in-process and through a server', () => {
  const fixtures = {} as Record<Mode, Fixture>;
  let server: TestServer;
  const answers: Record<Mode, unknown[]> = { 'in-process': [], server: [] };

  before(async () => {
    // Two isolated projects: built side by side.
    [fixtures['in-process'], fixtures.server] = await Promise.all([project(), project()]);
    server = await startTestServer(fixtures.server.dir, fixtures.server.env);
    const applied = await berthOn(fixtures.server, ['apply'], { env: server.envFor(fixtures.server.env) });
    assert.equal(applied.code, 0, showOutcome(applied));
    assert.match(applied.stdout, /applied version 1 of t-/);
  });
  after(async () => {
    await server?.stop();
    await Promise.all(Object.values(fixtures).map((f) => f.cleanup()));
  });

  const berth = (mode: Mode, args: string[]): Promise<CliOutcome> => berthOn(fixtures[mode], args, mode === 'server' ? { env: server.envFor(fixtures.server.env) } : {});
  const json = async (mode: Mode, args: string[], code = 0) => {
    const o = await berth(mode, [...args, '--json']);
    assert.equal(o.code, code, showOutcome(o));
    const value = JSON.parse(o.stdout) as unknown;
    answers[mode].push(normalise(value, fixtures[mode].name));
    return value as Record<string, unknown>;
  };

  /**
   * Each step runs in both modes at once: the two projects are isolated (own names, stores and
   * doors), and most of a step's time is waiting on health checks and drains, not on the CPU.
   * A failure names the mode it happened in.
   */
  const inBothModes = (step: (mode: Mode) => Promise<void>) => async () => {
    const outcomes = await Promise.allSettled(MODES.map((mode) => step(mode)));
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[MODES[i]!, o.reason] as const] : []));
    if (failed.length === 0) return;
    if (failed.length === 1) {
      const [mode, reason] = failed[0]!;
      if (reason instanceof Error) reason.message = `${mode}: ${reason.message}`;
      throw reason;
    }
    throw new AggregateError(failed.map(([, reason]) => reason), failed.map(([mode, reason]) => `${mode}: ${String(reason)}`).join('\n'));
  };

  // Each rollout admitted its instances only once healthy; ps's health is the engine's own check at this moment, so only the state is compared.
  it('release into dev, promote to test, scale test to 2, each succeeded, and ps shows them running', inBothModes(async (mode) => {
    assert.equal((await json(mode, ['release', 'web', '--env', 'dev'])).status, 'succeeded');
    assert.equal((await json(mode, ['promote', 'web', '--to', 'test'])).status, 'succeeded');
    assert.equal((await json(mode, ['scale', 'web=2', '--env', 'test'])).status, 'succeeded');
    const ps = (await json(mode, ['ps'])) as { instances: { slot: string; state: string }[] };
    assert.deepEqual(ps.instances.filter((i) => i.slot.startsWith('web-')).map((i) => [i.slot, i.state]), [
      ['web-dev-1', 'running'],
      ['web-test-1', 'running'],
      ['web-test-2', 'running'],
    ]);
  }));

  it('deploy (Run) a second service into dev: its instance runs, and a second deploy keeps it', inBothModes(async (mode) => {
    const first = (await json(mode, ['deploy', 'api', '--env', 'dev'])) as { instances: { slot: string }[]; steps: { action: string }[] };
    assert.deepEqual([first.instances.map((i) => i.slot), first.steps.map((s) => s.action)], [['api-dev-1'], ['create']]);
    const again = (await json(mode, ['deploy', 'api', '--env', 'dev'])) as { steps: { action: string }[] };
    assert.deepEqual(again.steps.map((s) => s.action), ['keep']);
  }));

  it('history (with the configuration version of each release made by the server), rollout ls and hosts', inBothModes(async (mode) => {
    const h = (await json(mode, ['history', 'web'])) as { releases: { configVersion?: number }[]; rollouts: { kind: string; environment: string; status: string }[] };
    // A release made by the server names the configuration version it was made with; in-process there is none.
    assert.deepEqual(h.releases.map((r) => r.configVersion), h.releases.map(() => (mode === 'server' ? 1 : undefined)));
    assert.deepEqual(h.rollouts.map((r) => [r.kind, r.environment, r.status]).sort(), [['promote', 'test', 'succeeded'], ['release', 'dev', 'succeeded'], ['scale', 'test', 'succeeded']]);
    assert.deepEqual((await json(mode, ['rollout', 'ls'])).rollouts, []);
    await json(mode, ['hosts']);
  }));

  it('bad input: an unknown environment, an unknown service and a promotion from nowhere fail with the same error and exit code', inBothModes(async (mode) => {
    for (const [args, code, pattern] of [
      [['release', 'web', '--env', 'nope'], 3, /unknown environment "nope"|environment "nope"/],
      [['release', 'nope', '--env', 'dev'], 3, /service "nope"/],
      [['rollback', 'web', '--env', 'dev'], 3, /nothing to roll back to/],
    ] as const) {
      const o = await berth(mode, [...args]);
      assert.equal(o.code, code, showOutcome(o));
      assert.match(o.stderr, pattern);
      answers[mode].push(o.stderr.split(fixtures[mode].name).join('<project>'));
    }
  }));

  it('rollback test to its previous release after a second release', inBothModes(async (mode) => {
    assert.equal((await json(mode, ['release', 'web', '--env', 'dev', '--force'])).status, 'succeeded');
    assert.equal((await json(mode, ['promote', 'web', '--to', 'test'])).status, 'succeeded');
    const back = await json(mode, ['rollback', 'web', '--env', 'test']);
    assert.deepEqual([back.status, back.release], ['succeeded', 1]);
  }));

  it('restart test (two instances, one at a time), then one instance of it, then one that does not exist: the same lines and exit codes', inBothModes(async (mode) => {
    const all = await berth(mode, ['restart', 'web', '--env', 'test']);
    assert.equal(all.code, 0, showOutcome(all));
    assert.deepEqual(all.stdout.trim().split('\n'), ['✓ web-test-1: restarted, healthy', '✓ web-test-2: restarted, healthy']);
    const one = await berth(mode, ['restart', 'web-test-2', '--env', 'test']);
    assert.equal(one.code, 0, showOutcome(one));
    assert.deepEqual(one.stdout.trim().split('\n'), ['✓ web-test-2: restarted, healthy']);
    const none = await berth(mode, ['restart', 'web-test-9', '--env', 'test']);
    assert.equal(none.code, 3, showOutcome(none));
    assert.match(none.stderr, /no instances of web-test-9 in test/);
    const ps = (await json(mode, ['ps', '--env', 'test'])) as { instances: { slot: string; state: string }[] };
    assert.deepEqual(ps.instances.filter((i) => i.slot.startsWith('web-')).map((i) => [i.slot, i.state]), [['web-test-1', 'running'], ['web-test-2', 'running']]);
    answers[mode].push(all.stdout, one.stdout, none.stderr.split(fixtures[mode].name).join('<project>'));
  }));

  it('move an instance to the host it runs on: nothing to move', inBothModes(async (mode) => {
    const host = ((await json(mode, ['hosts'])).hosts as { name: string }[])[0]!.name;
    const moved = await json(mode, ['move', 'web-test-1', '--env', 'test', '--to', host]);
    assert.deepEqual([moved.moved, moved.stayed], [[], []]);
    const text = await berth(mode, ['move', 'web-test-1', '--env', 'test', '--to', host]);
    assert.equal(text.code, 0, showOutcome(text));
    assert.equal(text.stdout.trim(), `web-test-1 already runs on ${host}: nothing to move`);
  }));

  it('host drain of the only host is refused before anything moves (it stays draining); undrain makes it ready', inBothModes(async (mode) => {
    const host = ((await json(mode, ['hosts'])).hosts as { name: string }[])[0]!.name;
    const drain = await berth(mode, ['host', 'drain', host]);
    assert.notEqual(drain.code, 0, showOutcome(drain));
    assert.match(drain.stderr, new RegExp(`drain ${host}`));
    const draining = (await json(mode, ['hosts'])).hosts as { name: string; draining: boolean }[];
    assert.deepEqual(draining.map((h) => [h.name, h.draining]), [[host, true]]);
    const undrain = await berth(mode, ['host', 'undrain', host]);
    assert.equal(undrain.code, 0, showOutcome(undrain));
    assert.equal(undrain.stdout.trim(), `${host} is ready: it takes new instances again (the ones that moved away stay where they are)`);
    assert.deepEqual(await json(mode, ['host', 'undrain', host]), { host, state: 'ready', wasDraining: false });
    const ps = (await json(mode, ['ps', '--env', 'test'])) as { instances: { slot: string; state: string }[] };
    assert.deepEqual(ps.instances.filter((i) => i.slot.startsWith('web-')).map((i) => [i.slot, i.state]), [['web-test-1', 'running'], ['web-test-2', 'running']]);
    answers[mode].push(drain.code, drain.stderr.split(fixtures[mode].name).join('<project>'), undrain.stdout);
  }));

  it('both front doors gave the same answers', () => {
    assert.deepEqual(answers.server, answers['in-process']);
  });
});
