/**
 * Integration, through the real `berth` command: deploy, ps, logs, exec,
 * restart, stop and rm of a service on the nat network, their --json output
 * and their errors.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../../imaging/builder.js';
import { loadProject } from '../../config/project.js';
import { removeNetwork } from '../../network/docker-network.js';
import { openStore, closeStore } from '../../store/db.js';
import { runBerth } from '../../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../../testing/fixture.js';
import { steps } from '../../testing/steps.js';

describe('berth deploy, ps, logs, exec, restart, stop and rm', () => {
  const step = steps();
  let fixture: Fixture;
  const service = `ops${randomBytes(3).toString('hex')}`;
  // -p right after the command: exec passes everything after -- to the instance.
  const berth = (command: string, ...args: string[]) => runBerth([command, '-p', fixture.dir, ...args], { env: fixture.env, timeoutMs: 120_000 });
  const psJson = async () => {
    const ps = await berth('ps', '--env', 'dev', '--json');
    assert.equal(ps.code, 0, ps.stderr);
    return (JSON.parse(ps.stdout) as { instances: { slot: string; id: string; state: string; health: string; ports: Record<string, number>; restarts: number }[] }).instances;
  };

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: {
          settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-v', '-p', '8080', '-h', '/www'] },
          static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\n',
          runtime: '#!/bin/sh\necho "web: $BERTH_INSTANCE starting"\n',
        },
      },
      {
        services: { [service]: { image: 'web', ports: [8080], replicas: 2, health: { http: '/', interval: '1s' } } },
        environments: { dev: { network: 'nat' } },
      },
    );
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
    assert.deepEqual(summary.failed, []);
  });

  after(async () => {
    await berth('rm', service, '--env', 'dev').catch(() => undefined);
    await removeNetwork(fixture.engine, `berth-${fixture.name}-nat`).catch(() => {});
    await fixture.cleanup();
  });

  step('deploy prints the plan, each instance when healthy, and where it answers', async () => {
    const out = await berth('deploy', service, '--env', 'dev');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`create  ${service}-dev-1 on local: new instance`));
    assert.match(out.stdout, new RegExp(`✓ ${service}-dev-2: healthy in .* ports \\d+→8080/tcp`));
    assert.match(out.stdout, /2 instance\(s\) healthy/);
  });

  step('ps --json lists both instances, running, with their published ports; the ports answer', async () => {
    const instances = await psJson();
    assert.deepEqual(instances.map((i) => [i.slot, i.state]), [[`${service}-dev-1`, 'running'], [`${service}-dev-2`, 'running']]);
    for (const i of instances) {
      const answer = await fetch(`http://127.0.0.1:${i.ports['8080/tcp']}/`);
      assert.equal((await answer.text()).trim(), 'hello');
    }
  });

  step('logs merges every instance, each line prefixed by its instance', async () => {
    const out = await berth('logs', service, '--env', 'dev');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^${service}-dev-1 \\| web: ${service}-dev-1 starting$`, 'm'));
    assert.match(out.stdout, new RegExp(`^${service}-dev-2 \\| web: ${service}-dev-2 starting$`, 'm'));
    const one = await berth('logs', `${service}-dev-2`, '--env', 'dev');
    assert.doesNotMatch(one.stdout, new RegExp(`${service}-dev-1 \\|`));
  });

  step('exec runs a command in an instance and exits with its code', async () => {
    const ok = await berth('exec', `${service}-dev-1`, '--env', 'dev', '--', 'cat', '/www/index.html');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'hello');
    const failing = await berth('exec', service, '--env', 'dev', '--', 'sh', '-c', 'exit 7');
    assert.equal(failing.code, 7);
  });

  step('restart restarts one at a time and waits until each is healthy again', async () => {
    const before = await psJson();
    const out = await berth('restart', service, '--env', 'dev');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`✓ ${service}-dev-1: restarted, healthy\\n✓ ${service}-dev-2: restarted, healthy`));
    const after = await psJson();
    assert.deepEqual(after.map((i) => [i.id, i.state]), before.map((i) => [i.id, 'running']));
  });

  step('stop stops the instances and keeps them; a deploy starts them again', async () => {
    const stop = await berth('stop', service, '--env', 'dev');
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual((await psJson()).map((i) => i.state), ['exited', 'exited']);
    const deploy = await berth('deploy', service, '--env', 'dev');
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stdout, /replace .*not running/);
    assert.deepEqual((await psJson()).map((i) => i.state), ['running', 'running']);
  });

  it('bad input: an unknown service, a missing --env, a command without a service', async () => {
    const unknown = await berth('logs', 'nope', '--env', 'dev');
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /error \(not found\)/);
    const noEnv = await berth('deploy', service);
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /--env is required/);
    const noCommand = await berth('exec', service, '--env', 'dev');
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /usage: berth exec/);
  });

  step('rm removes every instance', async () => {
    const out = await berth('rm', service, '--env', 'dev');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`removed ${service}-dev-1`));
    assert.deepEqual(await psJson(), []);
  });
});
