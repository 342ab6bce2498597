/**
 * Integration: drain and `berth move` place through the placement planner, on
 * the lab (three dockerds on one LAN bridge). One service asking 1.5 CPU (a
 * lab host has 2, so one instance per host) and the label zone=a, which h1 and
 * h2 carry and h3 does not; the environment lists h3 before h2, so "the host
 * holding the fewest instances" would have picked h3.
 *
 * - `berth move --to h3` is refused (exit 4) naming the missing label; nothing moved;
 * - a drain of h1 takes its instance to h2, the host with room and the label;
 * - with two instances (h1, h2) a drain of h2 finds no room: exit 4 naming what
 *   is short where, nothing moved, h2 stays draining and the message says how to undo;
 * - back to one instance, a drain of h2 killed mid-move resumes to h1 when run again.
 *
 * Berth reaches the lab engines at their unix sockets; they pull the release
 * by digest from the registry on this machine's LAN address (TLS, htpasswd).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import bcrypt from 'bcryptjs';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { registryDown, registryUp } from '../registry/process.js';
import { build, freePort, push, target } from '../registry/testing.js';
import { releaseService, scaleService } from '../release/operations.js';
import { allSlots } from '../store/deployments.js';
import { hostStates } from '../store/hosts.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { rolloutsOf } from '../store/releases.js';
import { berthOn, runBerth } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { startLab, type Lab } from '../testing/lab.js';
import { stepsWithNeeds } from '../testing/steps.js';

const SVC = `dp${randomBytes(3).toString('hex')}`;
const ENV = 'production';
const TIMEOUT_MS = 30_000;
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const ZONES: Record<string, string> = { h1: 'a', h2: 'a', h3: 'b' };

const { step, needs } = stepsWithNeeds();

const RELEASE = 'a release of one instance asking 1.5 CPU and zone=a runs on h1';
const LABELS = 'berth move --to a host without the label is refused by the planner, exit 4, nothing moved';
const DRAIN = 'a drain takes the instance where the planner says: h2 (room and the label), not the emptier h3';
const KILLED = 'a drain killed mid-move resumes where its journal was taking the instance';
const FULL = 'a drain with no room anywhere fails before anything moves, naming what is short where; the host stays draining';

describe('drain and move place through the placement planner', () => {
  let fixture: Fixture;
  let lab: Lab;
  let db: Store;
  let image: string;

  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const berth = (...args: string[]) => runBerth([...args, '-p', fixture.dir], { env: fixture.env, timeoutMs: 180_000 });
  const where = async () => Object.fromEntries((await allSlots(db, ENV)).filter((s) => s.service === SVC).map((s) => [s.slot, s.host]));
  const slot = (n: number) => `${SVC}-${ENV}-${n}`;

  before(async () => {
    lab = await startLab({ hosts: 3 });
    const address = `${lab.hostIp}:${await freePort()}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: {
          settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
          static: '#!/bin/sh\nmkdir -p /www\necho ok > /www/health.html\n',
        },
      },
      {
        registry: { listen: address, htpasswd: 'htpasswd', username: 'berth', password: { env: 'T_REGISTRY_PASSWORD' } },
        hosts: lab.hosts.map((h) => ({ name: h.name, engine: `unix://${h.socket}`, address: h.ip, labels: { zone: ZONES[h.name] } })),
        networks: { lan: { mode: 'flat', bridge: lab.bridge, subnet: lab.subnet, gateway: lab.gateway, range: `${lab.address(150)}-${lab.address(170)}`, quarantine: '0s' } },
        services: {
          [SVC]: {
            image: 'web',
            ports: [8080],
            health: { http: '/health.html', interval: '1s', timeout: '500ms' },
            stop_grace: '1s',
            resources: { cpus: 1.5 },
            placement: { labels: { zone: 'a' } },
            rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' },
          },
        },
        environments: { [ENV]: { network: 'lan', lb_address: '127.0.0.1', hosts: ['h1', 'h3', 'h2'], services: { [SVC]: { replicas: 1 } } } },
        pipeline: [ENV],
      },
    );
    fixture.env.T_REGISTRY_PASSWORD = PASSWORD;
    fixture.write('htpasswd', `berth:${bcrypt.hashSync(PASSWORD, 10)}\n`);
    db = await openStore(context().project.stateDir);
    await registryUp(target(fixture));
    lab.trustRegistry(address, readFileSync(context().project.registry.tls!.ca!, 'utf8'));
    const built = await build(fixture);
    assert.deepEqual(built.failed, []);
    image = [...built.built, ...built.upToDate].find((b) => b.name === 'web')!.imageId;
    const pushed = await push(fixture);
    assert.deepEqual(pushed.failed, [], JSON.stringify(pushed.failed));
  });

  after(async () => {
    if (!fixture) return;
    await registryDown(target(fixture)).catch(() => {});
    await (db && await closeStore(db));
    // The engines go with the lab, and their containers and networks with them.
    await lab?.dispose();
    await fixture.cleanup();
  });

  step(RELEASE, async () => {
    const result = await releaseService(context(), SVC, ENV, { image, timeoutMs: TIMEOUT_MS });
    assert.equal(result.status, 'succeeded');
    assert.deepEqual(await where(), { [slot(1)]: 'h1' });
  });

  step(LABELS, async () => {
    needs(RELEASE);
    const rollouts = sqliteOf(db).prepare('SELECT count(*) AS n FROM rollouts').get() as { n: number };
    const refused = await berth('move', slot(1), '--env', ENV, '--to', 'h3');
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, new RegExp(`cannot move ${slot(1)} to h3: h3 does not carry zone=a \\(zone=b\\)`));
    assert.deepEqual(await where(), { [slot(1)]: 'h1' });
    assert.deepEqual(sqliteOf(db).prepare('SELECT count(*) AS n FROM rollouts').get(), rollouts, 'a refused move journaled a rollout');
  });

  step(DRAIN, async () => {
    needs(RELEASE);
    const drained = await berth('host', 'drain', 'h1');
    assert.equal(drained.code, 0, drained.stderr);
    assert.deepEqual(await where(), { [slot(1)]: 'h2' });
    const undrained = await berth('host', 'undrain', 'h1');
    assert.equal(undrained.code, 0, undrained.stderr);
  });

  step(FULL, async () => {
    needs(DRAIN);
    const scaled = await scaleService(context(), SVC, ENV, 2, { timeoutMs: TIMEOUT_MS });
    assert.equal(scaled.status, 'succeeded');
    assert.deepEqual(await where(), { [slot(1)]: 'h2', [slot(2)]: 'h1' });
    const refused = await berth('host', 'drain', 'h2');
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /cannot drain h2: service \S+ in production needs room for 1 more instance\(s\) with 1\.5 CPU free on hosts with zone=a; zone=a hosts: h1 \(0\.5 CPU free\), h2 \(draining\)/);
    assert.match(refused.stderr, /nothing moved; h2 stays draining/);
    assert.match(refused.stderr, /berth host undrain h2/);
    assert.deepEqual(await where(), { [slot(1)]: 'h2', [slot(2)]: 'h1' });
    assert.ok((await hostStates(db)).has('h2'), 'h2 is no longer draining');
  });

  step(KILLED, async () => {
    needs(FULL);
    assert.equal((await berth('host', 'undrain', 'h2')).code, 0);
    assert.equal((await scaleService(context(), SVC, ENV, 1, { timeoutMs: TIMEOUT_MS })).status, 'succeeded');
    assert.deepEqual(await where(), { [slot(1)]: 'h2' });
    // Checkpoints of the first batch: steps front-door, drain, replace; then renamed aside, replace, launch (old one stopped, new one not created).
    const killed = await berthOn(fixture, ['host', 'drain', 'h2'], { killAt: 6 });
    assert.equal(killed.signal, 'SIGKILL', `not killed: ${killed.stdout}${killed.stderr}`);
    const interrupted = (await rolloutsOf(db, SVC, ENV))[0]!;
    assert.deepEqual([interrupted.kind, interrupted.status], ['move', 'running']);
    const resumed = await berth('host', 'drain', 'h2');
    assert.equal(resumed.code, 0, `${resumed.stdout}${resumed.stderr}`);
    assert.match(resumed.stdout, new RegExp(`rollout #${interrupted.id} \\(move`));
    assert.equal((await rolloutsOf(db, SVC, ENV)).find((r) => r.id === interrupted.id)!.status, 'succeeded');
    assert.deepEqual(await where(), { [slot(1)]: 'h1' });
  });
});
