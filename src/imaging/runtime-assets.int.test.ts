/**
 * Integration: the helpers of /opt/berth/bin/ in a busybox root — secrets from
 * /run/secrets, dropping to `user:` (busybox su, as the tiny root has no
 * util-linux setpriv) and the health probe, also run by the engine's HEALTHCHECK.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProject } from '../config/project.js';
import { copyInstanceFiles } from '../runtime/instance-files.js';
import { openStore, closeStore } from '../store/db.js';
import { startTestContainer, type TestContainer } from '../testing/container.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { sleep } from '../time.js';
import { buildProject } from './builder.js';

/** Who the service runs as (its parent is the engine's init: every step exec'd) and what it got; no other variable. */
const REPORT = 'echo "ppid=$PPID uid=$(id -u) gid=$(id -g) home=$HOME secret=[$DB_PASSWORD] bad=[$(env | grep -c bad-name)]"';
const SECRET = 'pa ss\nword';

describe('runtime assets: secrets, user switching and the health probe', () => {
  let fixture: Fixture;
  const tags = new Map<string, string>();

  before(async () => {
    const root = await tinyRootTarball();
    const service = (user: string) => ({ settings: { from: 'base', user, command: ['sh', '-c', REPORT] } });
    fixture = await makeFixture({
      base: {
        settings: { root: { tarball: root } },
        // The tiny root already has app (1000:1000); svc's primary group is svc (1002), and it is also in extra.
        static: [
          '#!/bin/sh',
          "echo 'svc:x:1001:1002:svc:/home/svc:/bin/sh' >> /etc/passwd",
          "printf 'svc:x:1002:\\nextra:x:1003:svc\\n' >> /etc/group",
          'mkdir -p /home/svc /var/www',
          'echo hello > /var/www/index.html',
          '',
        ].join('\n'),
        runtime: '#!/bin/sh\necho "runtime sees the secret: ${DB_PASSWORD:+yes}"\n',
      },
      'as-app': service('app'),
      'as-svc': service('svc:svc'),
      'as-uid': service('1001'),
      'as-extra': service('svc:extra'),
      'as-ghost': service('ghost'),
      web: { settings: { from: 'base', command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'] } },
    });
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env }).finally(() => closeStore(db));
    assert.deepEqual(summary.failed, []);
    for (const image of summary.built) tags.set(image.name, image.tag);
  });
  after(async () => {
    await fixture.cleanup();
  });

  const spec = (image: string, suffix: string, extra: Partial<TestContainer> = {}): TestContainer => ({
    project: fixture.name,
    service: image,
    environment: 'test',
    instance: `${fixture.name}-${suffix}`,
    image: tags.get(image)!,
    stopGraceSeconds: 2,
    ...extra,
  });

  /** Runs the image's command to its end; returns the exit code and the output. */
  async function run(image: string, suffix: string, extra: Partial<TestContainer> = {}): Promise<{ id: string; code: number; logs: string }> {
    const state = await startTestContainer(fixture.engine, spec(image, suffix, extra));
    const code = await fixture.engine.containers.wait(state.id);
    return { id: state.id, code, logs: await fixture.engine.containers.logs(state.id) };
  }

  it('exports each file of /run/secrets as a variable, for the runtime scripts and the service, never in the container config', async () => {
    const secrets = new Map([['DB_PASSWORD', `${SECRET}\n`], ['bad-name', 'ignored']]);
    const beforeStart = (id: string) => copyInstanceFiles(fixture.engine.containers, id, { secrets, configs: [] });
    const { id, code, logs } = await run('as-app', 'secrets', { beforeStart });
    assert.equal(code, 0, logs);
    assert.match(logs, /^runtime sees the secret: yes$/m);
    // The trailing newline is stripped, inner ones are kept; an invalid name is skipped with a warning naming the file only.
    assert.ok(logs.includes(`ppid=1 uid=1000 gid=1000 home=/tmp secret=[${SECRET}] bad=[0]`), logs);
    assert.match(logs, /berth: warning: ignoring secret file \/run\/secrets\/bad-name: its name is not a variable name/);
    const inspect = await fixture.raw.json<{ Config: { Env: string[] } }>('GET', `/containers/${id}/json`);
    assert.ok(!inspect.Config.Env.some((e) => e.startsWith('DB_PASSWORD=')), 'no DB_PASSWORD in Config.Env');
    assert.ok(!JSON.stringify(inspect).includes('pa ss'), 'the value is nowhere in docker inspect');
  });

  it('runs a container without /run/secrets as before', async () => {
    const { code, logs } = await run('as-app', 'nosecrets');
    assert.equal(code, 0, logs);
    assert.ok(logs.includes('ppid=1 uid=1000 gid=1000 home=/tmp secret=[] bad=[0]'), logs);
  });

  it('drops to user:group, and to a numeric uid found in /etc/passwd, with busybox su', async () => {
    const svc = await run('as-svc', 'svc');
    assert.equal(svc.code, 0, svc.logs);
    assert.ok(svc.logs.includes('ppid=1 uid=1001 gid=1002 home=/home/svc'), svc.logs);
    const uid = await run('as-uid', 'uid');
    assert.equal(uid.code, 0, uid.logs);
    assert.ok(uid.logs.includes('ppid=1 uid=1001 gid=1002 home=/home/svc'), uid.logs);
  });

  it('stops with a clear message when the user is unknown or su cannot take the group', async () => {
    const ghost = await run('as-ghost', 'ghost');
    assert.equal(ghost.code, 67);
    assert.match(ghost.logs, /berth: user "ghost" \(user: ghost\) is not in \/etc\/passwd; create it in a static\.sh/);
    const extra = await run('as-extra', 'extra');
    assert.equal(extra.code, 67);
    assert.match(extra.logs, /berth: cannot run as "svc:extra" without util-linux setpriv/);
    assert.doesNotMatch(extra.logs, /uid=/);
  });

  it('probes http and tcp: healthy against busybox httpd, unhealthy against a missing page and a closed port', async () => {
    const healthcheck = { Test: ['CMD', '/opt/berth/bin/health', 'http', '8080', '/index.html'], Interval: 2e9, Timeout: 5e9, Retries: 3, StartPeriod: 0 };
    const { id } = await startTestContainer(fixture.engine, spec('web', 'web', { healthcheck }));
    // A generous deadline: only a probe that never passes fails this, however busy the machine.
    const deadline = Date.now() + 120_000;
    let health: string | undefined;
    while (Date.now() < deadline && health !== 'healthy') {
      await sleep(500);
      health = (await fixture.engine.containers.inspect(id))?.health;
    }
    assert.equal(health, 'healthy', "the engine's HEALTHCHECK with the probe never passed within 2 minutes");

    const probe = (...args: string[]) => fixture.engine.exec(id, ['/opt/berth/bin/health', ...args]);
    const cases: [string[], number, RegExp][] = [
      [['http', '8080', '/index.html'], 0, /^healthy: http:\/\/127\.0\.0\.1:8080\/index\.html answered 200$/],
      [['http', '8080', '/missing'], 1, /^unhealthy: http:\/\/127\.0\.0\.1:8080\/missing answered 404$/],
      [['http', '8081', '/'], 1, /^unhealthy: cannot connect to 127\.0\.0\.1:8081$/],
      [['tcp', '8080'], 0, /^healthy: 127\.0\.0\.1:8080 accepts connections$/],
      [['tcp', '8081'], 1, /^unhealthy: cannot connect to 127\.0\.0\.1:8081/],
      [['http', 'x', '/'], 1, /^unhealthy: expected a port number, got "x"$/],
    ];
    for (const [args, exitCode, output] of cases) {
      const result = await probe(...args);
      assert.equal(result.exitCode, exitCode, `health ${args.join(' ')}: ${result.output}`);
      assert.match(result.output.trim(), output);
      assert.equal(result.output.trim().split('\n').length, 1, 'one line');
    }
  });
});
