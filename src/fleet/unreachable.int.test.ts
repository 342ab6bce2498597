/**
 * Integration, through the real `berth` command, of a fleet with hosts that do
 * not answer: one whose engine socket accepts connections and never replies (a
 * hung engine: every call to it waits for the engine timeout), one whose socket
 * is gone (refused at once). ps and hosts answer for the local host and mark the
 * others; a deploy to an environment that includes a dead host fails naming it
 * and leaves the local instances as they were.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, closeStore } from '../store/db.js';
import { runBerth } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { steps } from '../testing/steps.js';

type Ps = { instances: { slot: string; host: string; id: string; state: string }[]; unreachable: { host: string; engine: string; error: string }[] };
type HostsJson = { hosts: { name: string; engine: string; state: string; reachable: boolean; error?: string; cpus: number | null; memory: number | null; instances: number }[] };

describe('a fleet with hosts that do not answer', () => {
  const step = steps();
  let fixture: Fixture;
  let hung: Server;
  const held: Socket[] = [];
  const service = `dead${randomBytes(3).toString('hex')}`;
  const berth = (command: string, ...args: string[]) => runBerth([command, '-p', fixture.dir, ...args], { env: fixture.env, timeoutMs: 120_000 });
  const hungSocket = () => join(fixture.dir, 'hung.sock');
  const goneSocket = () => join(fixture.dir, 'gone.sock');
  let before1: Ps['instances'];

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\n' },
      },
      {
        hosts: [{ name: 'local', engine: 'unix:///var/run/docker.sock' }],
        services: { [service]: { image: 'web', ports: [8080], replicas: 2, health: { http: '/', interval: '1s' } } },
        environments: { prod: { network: 'nat', hosts: ['local'] } },
      },
    );
    hung = createServer((socket) => held.push(socket)); // accepts, reads, never answers
    await new Promise<void>((resolve) => hung.listen(hungSocket(), resolve));
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
    assert.deepEqual(summary.failed, []);
  });

  after(async () => {
    await berth('rm', service, '--env', 'prod').catch(() => undefined);
    for (const s of held) s.destroy();
    await new Promise((resolve) => hung.close(resolve));
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await fixture.cleanup();
  });

  step('with every host up, the service runs on local', async () => {
    const deploy = await berth('deploy', service, '--env', 'prod');
    assert.equal(deploy.code, 0, deploy.stderr);
    const ps = await berth('ps', '--json');
    before1 = (JSON.parse(ps.stdout) as Ps).instances;
    assert.deepEqual(before1.map((i) => [i.slot, i.host, i.state]), [[`${service}-prod-1`, 'local', 'running'], [`${service}-prod-2`, 'local', 'running']]);
  });

  step('two more hosts join berth.yaml, one hung and one gone, and prod spans local and the hung one', async () => {
    const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, any>;
    yaml.hosts.push({ name: 'hung', engine: `unix://${hungSocket()}` }, { name: 'gone', engine: `unix://${goneSocket()}` });
    yaml.environments.prod.hosts = ['local', 'hung'];
    writeFileSync(join(fixture.dir, 'berth.yaml'), stringify(yaml));
  });

  step('berth ps answers for local and marks each host that did not answer, with its reason; exit 0', async () => {
    // Each waits on the hung engine for its timeout: the two run side by side.
    const [json, text] = await Promise.all([berth('ps', '--json'), berth('ps')]);
    assert.equal(json.code, 0, json.stderr);
    const ps = JSON.parse(json.stdout) as Ps;
    assert.deepEqual(ps.instances.map((i) => [i.slot, i.host, i.id, i.state]), before1.map((i) => [i.slot, 'local', i.id, 'running']));
    assert.deepEqual(ps.unreachable.map((u) => [u.host, u.engine]), [['gone', `unix://${goneSocket()}`], ['hung', `unix://${hungSocket()}`]]);
    assert.match(ps.unreachable[0]!.error, /ENOENT/);
    assert.match(ps.unreachable[1]!.error, /hung\.sock did not answer within 5 s/);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${service}-prod-1 +prod +local .* running`, 'm'));
    assert.match(text.stdout, /^host gone unreachable: the engine at unix:\/\/.*gone\.sock .*\(ENOENT\)/m);
    assert.match(text.stdout, /^host hung unreachable: the engine at unix:\/\/.*hung\.sock did not answer within 5 s/m);
  });

  step('berth hosts --json shows local ready with its capacity and instances, the others unreachable with the reason', async () => {
    const out = await berth('hosts', '--json');
    assert.equal(out.code, 0, out.stderr);
    const { hosts } = JSON.parse(out.stdout) as HostsJson;
    assert.deepEqual(hosts.map((h) => [h.name, h.state, h.reachable, h.instances]), [['local', 'ready', true, 2], ['hung', 'unreachable', false, 0], ['gone', 'unreachable', false, 0]]);
    assert.ok((hosts[0]!.cpus ?? 0) > 0 && (hosts[0]!.memory ?? 0) > 0, 'the local engine reports CPUs and memory');
    assert.equal(hosts[0]!.error, undefined);
    assert.match(hosts[1]!.error ?? '', /did not answer within 5 s/);
    assert.match(hosts[2]!.error ?? '', /ENOENT/);
  });

  step('a deploy to prod (local and hung) fails naming hung, exit 5, and changes nothing on local', async () => {
    const deploy = await berth('deploy', service, '--env', 'prod', '--force');
    assert.equal(deploy.code, 5, deploy.stdout + deploy.stderr);
    assert.match(deploy.stderr, /^error \(unavailable\): host hung is unreachable; the deploy of .* to prod needs it, so nothing was changed/m);
    assert.match(deploy.stderr, /hung \(unix:\/\/.*hung\.sock\): .*did not answer within 5 s/);
    assert.doesNotMatch(deploy.stderr, /gone/);
    const [ps, historyOut] = await Promise.all([berth('ps', '--json'), berth('history', service, '--json')]);
    const after1 = (JSON.parse(ps.stdout) as Ps).instances;
    assert.deepEqual(after1.map((i) => [i.slot, i.id, i.state]), before1.map((i) => [i.slot, i.id, 'running']));
    const history = JSON.parse(historyOut.stdout) as { rollouts: unknown[] };
    assert.equal(history.rollouts.length, 1, 'the failed deploy journaled no rollout');
  });

  step('logs of the instances on local work; a restart, which needs every host of prod, fails naming hung', async () => {
    // logs reads only local: it runs beside the restart, which waits on the hung engine.
    const [logs, restart] = await Promise.all([berth('logs', service, '--env', 'prod', '--tail', '5'), berth('restart', service, '--env', 'prod')]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(restart.code, 5, restart.stdout + restart.stderr);
    assert.match(restart.stderr, new RegExp(`host hung is unreachable; the restart of ${service} in prod needs it, so nothing was changed`));
    const after1 = (JSON.parse((await berth('ps', '--json')).stdout) as Ps).instances;
    assert.deepEqual(after1.map((i) => [i.slot, i.id, i.state]), before1.map((i) => [i.slot, i.id, 'running']));
  });

  step('a release to prod fails the same way before anything changes', async () => {
    const release = await berth('release', service, '--env', 'prod');
    assert.equal(release.code, 5, release.stdout + release.stderr);
    assert.match(release.stderr, /host hung is unreachable; the release of .* to prod needs it/);
  });
});
