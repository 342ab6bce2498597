/**
 * Integration, through the real `berth` command on the local engine: a value
 * stored with `berth secret set` reaches the instance as /run/secrets/NAME and
 * the service's variable; a deploy without it, or with another key, fails
 * before anything changes, naming what to do; a new value rolls the instance;
 * the value is in no berth output, no inspect output or log, and no file of the
 * state directory (the store holds it encrypted).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { berthOn, showOutcome, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { steps } from '../testing/steps.js';

const value = (what: string) => `${what}-${randomBytes(8).toString('hex')}`;

interface Deployed {
  steps: { slot: string; action: string }[];
  instances: { slot: string; id: string }[];
}

/** Every file under a folder (the state directory: the store, its WAL, keys, front doors' files). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('stored secrets deployed into instances', () => {
  const step = steps();
  let fixture: Fixture;
  let stateDir = '';
  const values: string[] = [];
  const outputs: string[] = [];
  const berth = async (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliOutcome> => {
    const outcome = await berthOn(fixture, args, { env: options.env ?? fixture.env, ...(options.input === undefined ? {} : { input: options.input }) });
    outputs.push(outcome.stdout, outcome.stderr);
    return outcome;
  };
  const deploy = async (): Promise<Deployed> => {
    const outcome = await berth(['deploy', 'web', '--env', 'production', '--json']);
    assert.equal(outcome.code, 0, showOutcome(outcome));
    return JSON.parse(outcome.stdout) as Deployed;
  };
  const setValue = async (v: string): Promise<void> => {
    values.push(v);
    const set = await berth(['secret', 'set', 'web', 'DB_PASSWORD', '--env', 'production'], { input: `${v}\n` });
    assert.equal(set.code, 0, showOutcome(set));
  };
  const containersOfProject = () => fixture.engine.containers.list([`berth.project=${fixture.name}`]);
  /** What the service process (busybox httpd, started by the entrypoint) has in its environment. */
  const serviceEnv = async (id: string): Promise<string> => {
    const script = 'for p in /proc/[0-9]*; do if tr "\\0" " " < $p/cmdline | grep -q "^busybox httpd"; then tr "\\0" "\\n" < $p/environ; fi; done';
    return (await fixture.engine.exec(id, ['busybox', 'su', '-s', '/bin/sh', 'app', '-c', script])).output;
  };
  const secretFile = async (id: string): Promise<string> => (await fixture.engine.exec(id, ['busybox', 'su', '-s', '/bin/sh', 'app', '-c', 'cat /run/secrets/DB_PASSWORD'])).output;

  before(async () => {
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: {
          settings: { from: 'base', user: 'app', command: ['/bin/serve'] },
          static: ['#!/bin/sh', 'mkdir -p /www', 'echo hello > /www/index.html', "printf '#!/bin/sh\\nexec busybox httpd -f -p 8080 -h /www\\n' > /bin/serve && chmod 755 /bin/serve", ''].join('\n'),
        },
      },
      {
        // A start period, as a user would set: on a busy machine busybox httpd took longer than three probes (6 s) to listen.
        services: { web: { image: 'web', ports: [8080], health: { http: '/', interval: '2s', start_period: '20s' }, secrets: { DB_PASSWORD: 'stored' } } },
        environments: { dev: { network: 'nat' }, production: { network: 'nat' } },
      },
    );
    stateDir = fixture.env.BERTH_STATE_DIR!;
    const built = await berth(['build']);
    assert.equal(built.code, 0, showOutcome(built));
  });

  after(async () => {
    await fixture?.cleanup();
  });

  let id = '';

  step('a deploy before the value is set fails naming the command that sets it, and creates nothing', async () => {
    const refused = await berth(['deploy', 'web', '--env', 'production']);
    assert.equal(refused.code, 3, showOutcome(refused));
    assert.match(refused.stderr, /secret DB_PASSWORD of web in production is not set/);
    assert.match(refused.stderr, /fix: run: berth secret set web DB_PASSWORD --env production < value-file/);
    assert.deepEqual(await containersOfProject(), []);
  });

  step('the stored value reaches the instance as /run/secrets/DB_PASSWORD and as the service\'s variable', async () => {
    await setValue(value('first'));
    id = (await deploy()).instances[0]!.id;
    assert.equal(await secretFile(id), values[0]);
    assert.match(await serviceEnv(id), new RegExp(`^DB_PASSWORD=${values[0]}$`, 'm'));
  });

  step('with another BERTH_SECRET_KEY the deploy fails naming both keys, and the instance stays', async () => {
    const other = randomBytes(32).toString('hex');
    const refused = await berth(['deploy', 'web', '--env', 'production'], { env: { ...fixture.env, BERTH_SECRET_KEY: other } });
    assert.equal(refused.code, 2, showOutcome(refused));
    assert.match(refused.stderr, /secret DB_PASSWORD of web in production was encrypted with key [0-9a-f]{12}, BERTH_SECRET_KEY is key [0-9a-f]{12}/);
    assert.deepEqual(await containersOfProject(), [id]);
  });

  step('an unchanged value keeps the instance; a new value replaces it, and the new instance has the new value', async () => {
    const kept = await deploy();
    assert.deepEqual(kept.steps.map((s) => s.action), ['keep']);
    await setValue(value('second'));
    const again = await deploy();
    assert.deepEqual(again.steps.map((s) => s.action), ['replace']);
    id = again.instances[0]!.id;
    assert.equal(await secretFile(id), values[1]);
  });

  step('no berth output, inspect output, log or file of the state directory holds a value; the key is only in its file', async () => {
    const listed = await berth(['secret', 'ls', 'web', '--json']);
    assert.equal(listed.code, 0, showOutcome(listed));
    // dev reads it from the store too, and has none.
    const secrets = (JSON.parse(listed.stdout) as { secrets: { environment: string; name: string; set: boolean }[] }).secrets;
    assert.deepEqual(secrets.map((s) => [s.environment, s.name, s.set]), [['dev', 'DB_PASSWORD', false], ['production', 'DB_PASSWORD', true]]);
    for (const args of [['ps', '--env', 'production', '--json'], ['logs', 'web', '--env', 'production'], ['secret', 'ls', 'web']]) {
      const outcome = await berth(args);
      assert.equal(outcome.code, 0, showOutcome(outcome));
    }
    const leaks = new RegExp(values.join('|'));
    for (const text of outputs) assert.doesNotMatch(text, leaks);
    assert.doesNotMatch(JSON.stringify(await fixture.raw.json('GET', `/containers/${id}/json`)), leaks);
    assert.doesNotMatch(await fixture.engine.containers.logs(id), leaks);
    const key = readFileSync(join(stateDir, 'secret.key'), 'utf8').trim();
    const files = filesUnder(stateDir);
    assert.ok(files.some((f) => f.endsWith('berth.db')), files.join('\n'));
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const v of values) assert.equal(bytes.includes(Buffer.from(v)), false, `${file} holds a secret value`);
      if (!file.endsWith('secret.key')) {
        assert.equal(bytes.includes(Buffer.from(key)), false, `${file} holds the key`);
        assert.equal(bytes.includes(Buffer.from(key, 'hex')), false, `${file} holds the key's bytes`);
      }
    }
  });
});
