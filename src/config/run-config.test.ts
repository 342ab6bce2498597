/** Port ranges, flat network pools, secret names and `user:` as loadProject checks them. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { loadForTest, problemsOf } from './problems-for-test.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project with the images base (a root) and app (from base, with the given settings), plus `rest` appended to berth.yaml. */
function project(appSettings: string, rest = '', files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-run-config-test-'));
  dirs.push(dir);
  const write = (relative: string, content: string, mode = 0o644) => {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
  };
  write('berth.yaml', `project: shop\nimages:\n  base:\n    root: {}\n  app:\n    from: base\n${appSettings}${rest}`);
  for (const image of ['base', 'app']) write(`images/${image}/static.sh`, '#!/bin/sh\n', 0o755);
  for (const [relative, content] of Object.entries(files)) write(relative, content);
  return dir;
}

const load = loadForTest;


describe('port numbers', () => {
  it('accepts 1 to 65535 on images, with or without a protocol', () => {
    const app = load(project('    ports: [1, 65535, "8080/tcp", "53/udp"]\n')).images.get('app')!;
    assert.deepEqual(app.ports, ['1', '65535', '8080/tcp', '53/udp']);
  });

  it('rejects image ports outside 1..65535 with the file, line, key and a fix', () => {
    assert.deepEqual(problemsOf(project('    ports: [0, 65536, "99999/udp", 8080]\n')), [
      { message: 'berth.yaml:7: images.app.ports[0]: port 0 is not between 1 and 65535', fix: 'use a port number from 1 to 65535, like 8080 or "53/udp"' },
      { message: 'berth.yaml:7: images.app.ports[1]: port 65536 is not between 1 and 65535', fix: 'use a port number from 1 to 65535, like 8080 or "53/udp"' },
      { message: 'berth.yaml:7: images.app.ports[2]: port 99999 is not between 1 and 65535', fix: 'use a port number from 1 to 65535, like 8080 or "53/udp"' },
    ]);
  });

  it('rejects a port out of range in image.yaml at its own line', () => {
    const dir = project('', '', {});
    writeFileSync(join(dir, 'berth.yaml'), 'project: shop\nimages:\n  base:\n    root: {}\n');
    mkdirSync(join(dir, 'images/app'), { recursive: true });
    writeFileSync(join(dir, 'images/app/image.yaml'), 'from: base\nports:\n  - 8080\n  - 70000\n');
    assert.deepEqual(problemsOf(dir).map((p) => p.message), [`${join('images', 'app', 'image.yaml')}:4: ports[1]: port 70000 is not between 1 and 65535`]);
  });

  it('rejects service and health check ports outside 1..65535', () => {
    const services = 'services:\n  web:\n    image: app\n    ports: [8080, 70000]\n    health: { tcp: 0 }\n';
    assert.deepEqual(problemsOf(project('', services)), [
      { message: 'berth.yaml:10: services.web.ports[1]: expected a port number from 1 to 65535, got number 70000', fix: 'use a port like 8080' },
      { message: 'berth.yaml:11: services.web.health.tcp: expected a port number from 1 to 65535, got number 0', fix: 'use a port like 8080' },
    ]);
  });
});

describe('flat network pools at load time', () => {
  const lan = (extra: string) => `networks:\n  lan:\n    mode: flat\n    bridge: br0\n    subnet: 10.77.0.0/24\n    gateway: 10.77.0.1\n${extra}`;

  it('loads a valid pool', () => {
    const networks = load(project('', lan('    range: 10.77.0.100-10.77.0.199\n    mac_prefix: "06:42"\n'))).networks;
    assert.equal(networks.get('lan')?.macPrefix, '06:42');
  });

  it('reports a multicast mac_prefix at its line and key, with the pool check\'s fix', () => {
    assert.deepEqual(problemsOf(project('', lan('    mac_prefix: "07:42"\n'))), [
      {
        message: 'berth.yaml:13: networks.lan.mac_prefix: 07:42 is a multicast prefix (the lowest bit of the first byte is set)',
        fix: 'use a prefix whose second hex digit is 2, 6, a or e (locally administered, unicast), like 02:42',
      },
    ]);
  });

  it('reports a range outside the subnet and a reserved address outside it, each at its key', () => {
    const messages = problemsOf(project('', lan('    range: 10.77.0.10-10.77.1.20\n    reserved: [10.77.0.5, 10.99.0.5]\n'))).map((p) => p.message);
    assert.deepEqual(messages, [
      'berth.yaml:13: networks.lan.range: 10.77.1.20 is not a host address of 10.77.0.0/24',
      'berth.yaml:14: networks.lan.reserved[1]: 10.99.0.5 is not a host address of 10.77.0.0/24',
    ]);
  });

  it('reports a gateway outside the subnet and a subnet with host bits', () => {
    const dir = project('', 'networks:\n  lan:\n    mode: flat\n    bridge: br0\n    subnet: 10.77.0.9/24\n    gateway: 10.78.0.1\n');
    assert.deepEqual(problemsOf(dir).map((p) => p.message), [
      'berth.yaml:11: networks.lan.subnet: 10.77.0.9/24 has host bits set',
      'berth.yaml:12: networks.lan.gateway: 10.78.0.1 is not a host address of 10.77.0.0/24',
    ]);
  });

  it('reports a range left empty by the hosts\' own addresses', () => {
    const hosts = 'hosts:\n  - { name: a, address: 10.77.0.10 }\n  - { name: b, address: 10.77.0.11 }\n';
    const messages = problemsOf(project('', hosts + lan('    range: 10.77.0.10-10.77.0.11\n'))).map((p) => p.message);
    assert.deepEqual(messages, ['berth.yaml:16: networks.lan.range: 10.77.0.10-10.77.0.11 has no address left once the gateway, hosts and reserved addresses are taken out']);
  });

  it('does not check the pool of a network that already has a problem', () => {
    const dir = project('', 'networks:\n  lan:\n    mode: flat\n    bridge: br0\n    subnet: 10.77.0.0/24\n    mac_prefix: "07:42"\n');
    assert.deepEqual(problemsOf(dir).map((p) => p.message), ['berth.yaml:8: networks.lan.gateway: a flat network needs "gateway"']);
  });
});

describe('secret names', () => {
  it('accepts environment variable names', () => {
    const services = 'services:\n  web:\n    image: app\n    secrets:\n      DB_PASSWORD: { env: DB_PASSWORD }\n      _token2: { file: token.txt }\n';
    assert.deepEqual(Object.keys(load(project('', services)).services.get('web')!.secrets), ['DB_PASSWORD', '_token2']);
  });

  it('rejects a name that is not an environment variable name, saying why', () => {
    const services = 'services:\n  web:\n    image: app\n    secrets:\n      db-password: { env: DB_PASSWORD }\n      2FA: { env: TWO_FA }\n';
    const fix = 'use letters, digits and _ only, not starting with a digit, like DB_PASSWORD';
    assert.deepEqual(problemsOf(project('', services)), [
      { message: 'berth.yaml:11: services.web.secrets.db-password: "db-password" is not a valid secret name: each secret becomes the environment variable of its name', fix },
      { message: 'berth.yaml:12: services.web.secrets.2FA: "2FA" is not a valid secret name: each secret becomes the environment variable of its name', fix },
    ]);
  });
});

describe('per-environment secrets', () => {
  const services = 'services:\n  web:\n    image: app\n    secrets:\n      DB_PASSWORD: { env: DEV_DB }\n';

  it('loads an environment\'s secrets for a service, files relative to berth.yaml', () => {
    const rest = `${services}environments:\n  dev: {}\n  production:\n    services:\n      web:\n        secrets:\n          DB_PASSWORD: { env: PROD_DB }\n          CERT: { file: certs/prod.pem }\n`;
    const dir = project('', rest);
    const loaded = load(dir);
    assert.deepEqual(loaded.environments.get('production')!.services.web!.secrets, { DB_PASSWORD: { env: 'PROD_DB' }, CERT: { file: join(dir, 'certs/prod.pem') } });
    assert.equal(loaded.environments.get('dev')!.services.web, undefined);
  });

  it('checks them like the service\'s: the name, one source, no BERTH_ name, with file, line and key', () => {
    const rest = `${services}environments:\n  production:\n    services:\n      web:\n        secrets:\n          db-password: { env: X }\n          BOTH: { env: X, file: y }\n          BERTH_IP: { env: X }\n`;
    assert.deepEqual(problemsOf(project('', rest)).map((p) => p.message), [
      'berth.yaml:17: environments.production.services.web.secrets.db-password: "db-password" is not a valid secret name: each secret becomes the environment variable of its name',
      'berth.yaml:19: environments.production.services.web.secrets.BERTH_IP: the secret name "BERTH_IP" is reserved: names starting with BERTH_ are Berth\'s own',
      'berth.yaml:18: environments.production.services.web.secrets.BOTH: name exactly one of "env" or "file"',
    ]);
  });
});

describe('stored secrets', () => {
  it('"stored" names the value `berth secret set` stored, for the service or an environment\'s override', () => {
    const rest = 'services:\n  web:\n    image: app\n    secrets:\n      DB_PASSWORD: stored\n      TOKEN: { env: TOKEN }\nenvironments:\n  dev: {}\n  production:\n    services:\n      web:\n        secrets:\n          TOKEN: stored\n';
    const loaded = load(project('', rest));
    assert.deepEqual(loaded.services.get('web')!.secrets, { DB_PASSWORD: { stored: true }, TOKEN: { env: 'TOKEN' } });
    assert.deepEqual(loaded.environments.get('production')!.services.web!.secrets, { TOKEN: { stored: true } });
  });

  it('another word is refused with file, line and key, and what to write', () => {
    const rest = 'services:\n  web:\n    image: app\n    secrets:\n      DB_PASSWORD: store\n';
    assert.deepEqual(problemsOf(project('', rest)), [
      {
        message: 'berth.yaml:11: services.web.secrets.DB_PASSWORD: expected { env: NAME }, { file: PATH } or stored, got the string "store"',
        fix: 'write "stored" for a value set with `berth secret set`, or a mapping like { env: DB_PASSWORD }',
      },
    ]);
  });
});

describe('config files', () => {
  it('maps a container path to a file relative to berth.yaml', () => {
    const dir = project('', 'services:\n  web:\n    image: app\n    config:\n      /etc/app/app.conf: config/app.conf\n', { 'config/app.conf': 'x=1\n' });
    assert.deepEqual(load(dir).services.get('web')!.configFiles, [{ source: join(dir, 'config/app.conf'), target: '/etc/app/app.conf' }]);
  });

  it('refuses a relative, folder or ".." container path and a missing file, at their keys', () => {
    const rest = 'services:\n  web:\n    image: app\n    config:\n      etc/a.conf: a.conf\n      /etc/../b.conf: a.conf\n      /etc/conf.d/: a.conf\n      /etc/c.conf: missing.conf\n';
    const dir = project('', rest, { 'a.conf': 'x' });
    const hint = 'is not an absolute path of a file inside the container, without "." or ".." steps';
    assert.deepEqual(problemsOf(dir).map((p) => p.message), [
      `berth.yaml:11: services.web.config.etc/a.conf: "etc/a.conf" ${hint}`,
      `berth.yaml:12: services.web.config./etc/../b.conf: "/etc/../b.conf" ${hint}`,
      `berth.yaml:13: services.web.config./etc/conf.d/: "/etc/conf.d/" ${hint}`,
      `berth.yaml:14: services.web.config./etc/c.conf: no such file: ${join(dir, 'missing.conf')}`,
    ]);
  });
});

describe('user', () => {
  it('accepts a user or uid with an optional group or gid', () => {
    for (const user of ['app', 'app:app', '1000', '1000:1000', 'app:1000', '_svc-1:www-data']) {
      assert.equal(load(project(`    user: "${user}"\n`)).images.get('app')!.user, user);
    }
  });

  it('rejects anything else with the accepted forms', () => {
    assert.deepEqual(problemsOf(project('    user: "app:"\n')).map((p) => p.message), [
      'berth.yaml:7: images.app.user: "app:" is not a user name or uid, optionally with ":" and a group name or gid, like "app", "app:app" or "1000:1000"',
    ]);
  });
});

describe('values written into generated files', () => {
  it('refuses a workdir with a newline at its line and key, before anything is built', () => {
    const fix = 'write an absolute path on one line, like /srv/app, without "$", "\\" or ".."';
    assert.deepEqual(problemsOf(project('    workdir: "/srv/app\\nRUN id"\n')), [
      { message: 'berth.yaml:7: images.app.workdir: "/srv/app\\nRUN id" has a newline or another control character', fix },
    ]);
  });

  it('refuses a workdir or app dest that is relative, expands or steps out with ..', () => {
    const app = '    workdir: srv\n    app:\n      path: .\n      dest: /srv/../etc\n';
    assert.deepEqual(problemsOf(project(app)).map((p) => p.message), [
      'berth.yaml:7: images.app.workdir: "srv" is not an absolute path inside the image',
      'berth.yaml:10: images.app.app.dest: "/srv/../etc" has a ".." step',
    ]);
    assert.deepEqual(problemsOf(project('    workdir: /srv/$APP\n')).map((p) => p.message), [
      'berth.yaml:7: images.app.workdir: "/srv/$APP" has a "$" or "\\", which the Dockerfile would expand',
    ]);
  });

  it('accepts a workdir with spaces', () => {
    assert.equal(load(project('    workdir: /srv/my app\n')).images.get('app')!.workdir, '/srv/my app');
  });

  it('refuses an image env value on more than one line (it is written into the Dockerfile)', () => {
    assert.deepEqual(problemsOf(project('    env:\n      NOTE: "a\\nb"\n')).map((p) => p.message), [
      'berth.yaml:8: images.app.env.NOTE: "a\\nb" has a newline or another control character, which an image\'s ENV cannot hold',
    ]);
  });
});

describe('Berth\'s own variables', () => {
  const fix = (name: string) => `rename it, like APP_${name.slice('BERTH_'.length)} (Berth sets ${name} itself; the user a service runs as is the image's "user:")`;

  it('refuses BERTH_ names in a service\'s env, an environment\'s override and a secret, with the key and a fix', () => {
    const rest = [
      'services:',
      '  web:',
      '    image: app',
      '    env:',
      '      BERTH_USER: ""',
      '      MODE: test',
      '    secrets:',
      '      BERTH_IP: { env: X }',
      'environments:',
      '  production:',
      '    services:',
      '      web:',
      '        env:',
      '          BERTH_SERVICE: other',
      '',
    ].join('\n');
    assert.deepEqual(problemsOf(project('', rest)), [
      { message: 'berth.yaml:11: services.web.env.BERTH_USER: the variable name "BERTH_USER" is reserved: names starting with BERTH_ are Berth\'s own', fix: fix('BERTH_USER') },
      { message: 'berth.yaml:14: services.web.secrets.BERTH_IP: the secret name "BERTH_IP" is reserved: names starting with BERTH_ are Berth\'s own', fix: fix('BERTH_IP') },
      { message: 'berth.yaml:20: environments.production.services.web.env.BERTH_SERVICE: the variable name "BERTH_SERVICE" is reserved: names starting with BERTH_ are Berth\'s own', fix: fix('BERTH_SERVICE') },
    ]);
  });

  it('refuses them in an image\'s env too (a child image could undo its parent\'s user:)', () => {
    assert.deepEqual(problemsOf(project('    env:\n      BERTH_USER: ""\n')), [
      { message: 'berth.yaml:8: images.app.env.BERTH_USER: the variable name "BERTH_USER" is reserved: names starting with BERTH_ are Berth\'s own', fix: fix('BERTH_USER') },
    ]);
  });

  it('accepts other names that merely contain BERTH', () => {
    const services = 'services:\n  web:\n    image: app\n    env:\n      APP_BERTH_USER: x\n      berth_user: y\n';
    assert.deepEqual(load(project('', services)).services.get('web')!.env, { APP_BERTH_USER: 'x', berth_user: 'y' });
  });
});

describe('health and canary settings', () => {
  const service = (name: string, extra: string) => `  ${name}:\n    image: app\n    ports: [8080]\n${extra}`;

  it('fills in the documented defaults; retries is another name for unhealthy_after', () => {
    const services = `services:\n${service('web', '    health: { http: /healthz }\n')}${service('old', '    health: { tcp: 8080, interval: 1s, retries: 5 }\n')}`;
    const loaded = load(project('', services)).services;
    assert.deepEqual(loaded.get('web')!.health, { kind: 'http', path: '/healthz', port: 8080, intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 });
    assert.deepEqual(loaded.get('old')!.health, { kind: 'tcp', port: 8080, intervalMs: 1000, timeoutMs: 500, healthyAfter: 1, unhealthyAfter: 5, minHealthyMs: 0, startPeriodMs: 0 });
    assert.deepEqual(loaded.get('web')!.canary, { watchMs: 30_000, minRequests: 20, tolerance: 0.05, inconclusiveLimit: 3 });
  });

  it('reads every key', () => {
    const health = '    health: { http: /up, port: 8081, interval: 5s, timeout: 2s, healthy_after: 2, unhealthy_after: 4, min_healthy: 10s, start_period: 1m }\n';
    const canary = '    canary: { watch: 1m, min_requests: 50, tolerance: 2%, inconclusive_limit: 5 }\n';
    const web = load(project('', `services:\n${service('web', health + canary)}`)).services.get('web')!;
    assert.deepEqual(web.health, { kind: 'http', path: '/up', port: 8081, intervalMs: 5000, timeoutMs: 2000, healthyAfter: 2, unhealthyAfter: 4, minHealthyMs: 10_000, startPeriodMs: 60_000 });
    assert.deepEqual(web.canary, { watchMs: 60_000, minRequests: 50, tolerance: 0.02, inconclusiveLimit: 5 });
  });

  it('rejects settings out of range with the file, line, key and a fix', () => {
    const services = [
      service('a', '    health: { http: /, unhealthy_after: 0 }\n'),
      service('b', '    health: { http: /, healthy_after: 0 }\n'),
      service('c', '    health: { http: /, interval: 2s, timeout: 2s }\n'),
      service('d', '    health: { http: /, min_healthy: -5s }\n'),
      service('e', '    health: { http: /, start_period: -1s }\n'),
      service('f', '    health: { http: /, retries: 2, unhealthy_after: 3 }\n'),
      service('g', '    canary: { max_error_rate: 1% }\n'),
    ].join('');
    const count = 'use 1 to judge on a single probe, or more (the default of unhealthy_after is 3)';
    assert.deepEqual(problemsOf(project('', `services:\n${services}`)), [
      { message: 'berth.yaml:11: services.a.health.unhealthy_after: must be at least 1, got 0: an instance is judged on at least one probe', fix: count },
      { message: 'berth.yaml:15: services.b.health.healthy_after: must be at least 1, got 0: an instance is judged on at least one probe', fix: count },
      { message: 'berth.yaml:23: services.d.health.min_healthy: must not be negative, got "-5s"', fix: 'use 0s for none, or a duration like 30s' },
      { message: 'berth.yaml:27: services.e.health.start_period: must not be negative, got "-1s"', fix: 'use 0s for none, or a duration like 30s' },
      {
        message: 'berth.yaml:19: services.c.health.timeout: timeout (2s) must be shorter than interval (2s): a probe must end before the next one starts',
        fix: 'set timeout below the interval (e.g. timeout: 1s) or the interval above the timeout (e.g. interval: 4s)',
      },
      { message: 'berth.yaml:31: services.f.health.retries: retries is another name for unhealthy_after; give one of them', fix: 'keep unhealthy_after: 3 and remove retries' },
      {
        message: "berth.yaml:35: services.g.canary.max_error_rate: max_error_rate (an absolute limit) is gone: a canary is now judged against the stable instances' error rate over the same window",
        fix: "replace it with tolerance: 5% (how many percentage points the canary's error rate may exceed the baseline's)",
      },
    ]);
  });
});

describe('placement', () => {
  const services = (placement: string, override = '') =>
    ['services:', '  web:', '    image: app', ...(placement ? [`    placement: ${placement}`] : []), 'environments:', '  production:', ...(override ? ['    services:', '      web:', `        placement: ${override}`] : []), ''].join('\n');

  it('reads a service\'s label constraints and an environment\'s own, and leaves them out when there are none', () => {
    const loaded = load(project('', services('{ labels: { rack: r1, ssd: true } }', '{ labels: { rack: r2 } }')));
    assert.deepEqual(loaded.services.get('web')!.placement, { labels: { rack: 'r1', ssd: 'true' } });
    assert.deepEqual(loaded.environments.get('production')!.services.web!.placement, { labels: { rack: 'r2' } });
    assert.equal('placement' in load(project('', services(''))).services.get('web')!, false);
  });

  it('rejects a bad label name, a label that is not a mapping and an unknown key, each at its line and key', () => {
    assert.deepEqual(problemsOf(project('', services('{ labels: { "bad key": x }, rack: r1 }', '{ labels: [rack] }'))), [
      { message: 'berth.yaml:10: services.web.placement.rack: unknown key "rack"', fix: 'allowed keys here: labels' },
      { message: 'berth.yaml:10: services.web.placement.labels.bad key: "bad key" is not a label name of letters, digits, ".", "_", "/" and "-"', fix: 'use a name like rack or zone' },
      { message: 'berth.yaml:15: environments.production.services.web.placement.labels: expected a mapping, got a list', fix: undefined },
    ]);
  });
});

describe('fleet.failure', () => {
  it('has defaults that tell a dead host within about ten seconds', () => {
    const { failure } = load(project(''));
    assert.deepEqual(failure, { intervalMs: 2000, timeoutMs: 1500, suspectAfter: 2, downAfter: 4, settleMs: 60_000, stopGraceMs: 5000 });
  });

  it('takes every key', () => {
    const { failure } = load(project('', 'fleet:\n  failure: { interval: 500ms, timeout: 400ms, suspect_after: 1, down_after: 6, settle: 2m, stop_grace: 1s }\n'));
    assert.deepEqual(failure, { intervalMs: 500, timeoutMs: 400, suspectAfter: 1, downAfter: 6, settleMs: 120_000, stopGraceMs: 1000 });
  });

  it('reports a bad value, an unknown key and settings that contradict each other at their file, line and key', () => {
    const rest = 'fleet:\n  failure:\n    interval: 1s\n    timeout: 2s\n    suspect_after: 3\n    down_after: 2\n    settle: soon\n    grace: 1s\n';
    assert.deepEqual(problemsOf(project('', rest)).map((p) => (typeof p === 'string' ? p : p.message)), [
      'berth.yaml:14: fleet.failure.grace: unknown key "grace"',
      'berth.yaml:13: fleet.failure.settle: expected a duration like "500ms", "2s", "5m", "1h" or "14d", got the string "soon"',
      'berth.yaml:10: fleet.failure.timeout: timeout (2000ms) must be above 0 and at most the interval (1000ms)',
      'berth.yaml:12: fleet.failure.down_after: down_after (2) must be at least suspect_after (3)',
    ]);
  });
});
