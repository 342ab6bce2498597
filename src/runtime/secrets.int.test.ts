/**
 * Integration, through the real `berth` command on the local engine: a
 * service's secret and config file are copied into its containers before they
 * start (no bind mount): the service sees the secret as a variable and the
 * file at its target; the secret file is 0400 and owned by the service's user;
 * no inspect output, label, log line or berth output holds the value; dev and
 * production get their own values; a changed value or config file rolls the
 * instances on the next deploy, and an unchanged one keeps them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { steps } from '../testing/steps.js';
import { sleep } from '../time.js';

const value = (what: string) => `${what}-${randomBytes(8).toString('hex')}`;

interface Deployed {
  steps: { slot: string; action: string }[];
  instances: { slot: string; id: string }[];
}

describe('secrets and config files copied into instances', () => {
  const step = steps();
  let fixture: Fixture;
  let dev = value('dev');
  const production = value('prod');
  let env: NodeJS.ProcessEnv;
  const outputs: string[] = [];
  const berth = async (args: string[]): Promise<CliOutcome> => {
    const outcome = await berthOn(fixture, args, { env });
    outputs.push(outcome.stdout, outcome.stderr);
    return outcome;
  };
  const deploy = async (environment: string): Promise<Deployed> => {
    const outcome = await berth(['deploy', 'web', '--env', environment, '--json']);
    assert.equal(outcome.code, 0, showOutcome(outcome));
    return JSON.parse(outcome.stdout) as Deployed;
  };
  /** What the service process (busybox httpd, started by the entrypoint) has in its environment; exec'd processes do not get the entrypoint's exports. */
  const serviceEnv = async (id: string): Promise<string> => {
    const script = 'for p in /proc/[0-9]*; do if tr "\\0" " " < $p/cmdline | grep -q "^busybox httpd"; then tr "\\0" "\\n" < $p/environ; fi; done';
    // As the service's user: root in a container lacks CAP_SYS_PTRACE, which reading another user's environ needs.
    return (await fixture.engine.exec(id, ['busybox', 'su', '-s', '/bin/sh', 'app', '-c', script])).output;
  };
  const sh = async (id: string, script: string): Promise<string> => (await fixture.engine.exec(id, ['sh', '-c', script])).output.trim();

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: {
          // A command without options: busybox su (the tiny root has no util-linux setpriv) would take them as its own.
          settings: { from: 'base', user: 'app', command: ['/bin/serve'] },
          // other: a second user of the image, who must not read the secret.
          static: [
            '#!/bin/sh',
            'mkdir -p /www',
            'echo hello > /www/index.html',
            "printf '#!/bin/sh\\nexec busybox httpd -f -p 8080 -h /www\\n' > /bin/serve && chmod 755 /bin/serve",
            "echo 'other:x:1001:1001::/tmp:/bin/sh' >> /etc/passwd",
            '',
          ].join('\n'),
        },
      },
      {
        services: {
          web: {
            image: 'web',
            ports: [8080],
            health: { http: '/', interval: '2s' },
            secrets: { API_TOKEN: { env: 'T_DEV_TOKEN' } },
            config: { '/etc/app/conf.d/app.conf': 'app.conf' },
          },
        },
        environments: {
          dev: { network: 'nat' },
          production: { network: 'nat', services: { web: { secrets: { API_TOKEN: { env: 'T_PROD_TOKEN' } } } } },
        },
      },
    );
    fixture.write('app.conf', 'greeting=hello\n', 0o600);
    env = { ...fixture.env, T_DEV_TOKEN: dev, T_PROD_TOKEN: production };
    const built = await berth(['build']);
    assert.equal(built.code, 0, showOutcome(built));
  });

  after(async () => {
    await fixture?.cleanup();
  });

  let devId = '';
  let prodId = '';

  step('dev and production each see their own secret as a variable of the service, and the config file at its target', async () => {
    devId = (await deploy('dev')).instances[0]!.id;
    prodId = (await deploy('production')).instances[0]!.id;
    const devEnv = await serviceEnv(devId);
    assert.match(devEnv, new RegExp(`^API_TOKEN=${dev}$`, 'm'));
    assert.doesNotMatch(devEnv, new RegExp(production));
    const prodEnv = await serviceEnv(prodId);
    assert.match(prodEnv, new RegExp(`^API_TOKEN=${production}$`, 'm'));
    assert.doesNotMatch(prodEnv, new RegExp(dev));
    assert.equal(await sh(devId, 'cat /etc/app/conf.d/app.conf'), 'greeting=hello');
  });

  step('on disk in the container: the secret 0400 and its folder 0500, owned by the service user (app, 1000:1000); the config file 0444, root\'s', async () => {
    assert.equal(await sh(devId, 'busybox stat -c "%a %u:%g" /run/secrets /run/secrets/API_TOKEN /etc/app/conf.d/app.conf'), '500 1000:1000\n400 1000:1000\n444 0:0');
    // The service's user can read it, another user cannot.
    assert.equal((await fixture.engine.exec(devId, ['busybox', 'su', '-s', '/bin/sh', 'app', '-c', 'cat /run/secrets/API_TOKEN'])).output.trim(), dev);
    assert.equal((await fixture.engine.exec(devId, ['busybox', 'su', '-s', '/bin/sh', 'other', '-c', 'cat /run/secrets/API_TOKEN 2>&1; ls /run/secrets 2>&1'])).output.includes(dev), false);
  });

  step('no inspect output, label, log line or berth output holds a secret value; the container mounts nothing', async () => {
    for (const id of [devId, prodId]) {
      const raw = await fixture.raw.json<{ Mounts: unknown[]; HostConfig: { Binds: unknown } }>('GET', `/containers/${id}/json`);
      const text = JSON.stringify(raw);
      assert.doesNotMatch(text, new RegExp(`${dev}|${production}`));
      assert.deepEqual(raw.Mounts, []);
      assert.equal(raw.HostConfig.Binds, null);
      assert.doesNotMatch(await fixture.engine.containers.logs(id), new RegExp(`${dev}|${production}`));
    }
    for (const environment of ['dev', 'production']) {
      const ps = await berth(['ps', '--env', environment, '--json']);
      assert.equal(ps.code, 0, showOutcome(ps));
      const logs = await berth(['logs', 'web', '--env', environment]);
      assert.equal(logs.code, 0, showOutcome(logs));
    }
    for (const text of outputs) assert.doesNotMatch(text, new RegExp(`${dev}|${production}`));
  });

  step('the files are in the container\'s writable layer: a restart keeps them and the entrypoint exports them again', async () => {
    await fixture.engine.containers.restart(devId, 2);
    let seen = '';
    // Until the restarted service process is up (a bounded number of looks, no deadline).
    for (let i = 0; i < 100 && !seen.includes('API_TOKEN='); i++) {
      seen = await serviceEnv(devId);
      if (!seen.includes('API_TOKEN=')) await sleep(100);
    }
    assert.match(seen, new RegExp(`^API_TOKEN=${dev}$`, 'm'));
  });

  step('a changed secret value replaces the instance on the next deploy; the other environment, unchanged, keeps its own', async () => {
    dev = value('dev2');
    env = { ...env, T_DEV_TOKEN: dev };
    const again = await deploy('dev');
    assert.deepEqual(again.steps.map((s) => s.action), ['replace']);
    const newId = again.instances[0]!.id;
    assert.notEqual(newId, devId);
    assert.match(await serviceEnv(newId), new RegExp(`^API_TOKEN=${dev}$`, 'm'));
    devId = newId;
    const kept = await deploy('production');
    assert.deepEqual(kept.steps.map((s) => s.action), ['keep']);
    assert.equal(kept.instances[0]!.id, prodId);
  });

  step('a changed config file replaces the instance too, and the new one has the new content', async () => {
    fixture.write('app.conf', 'greeting=bonjour\n', 0o644);
    const again = await deploy('dev');
    assert.deepEqual(again.steps.map((s) => s.action), ['replace']);
    assert.equal(await sh(again.instances[0]!.id, 'cat /etc/app/conf.d/app.conf'), 'greeting=bonjour');
    for (const text of outputs) assert.doesNotMatch(text, new RegExp(dev));
  });
});
