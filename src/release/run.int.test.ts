/**
 * Integration: services on the real engine. A flat network on a Linux bridge
 * the test owns, a "LAN host" (a network namespace with a veth on that bridge)
 * that reaches every instance at its static IP and learns its MAC; redeploys,
 * a failing health check, nat, removal and bad input. What survives an engine
 * restart is engine-restart.int.test.ts's, on a lab engine the test restarts.
 * What is logic, not the engine (a deploy with nothing changed keeps every
 * instance, an exhausted pool, no deployed reference for an unpushed build) is
 * release/deploy-on-fake.test.ts's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildProject } from '../imaging/builder.js';
import type { Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import { isBerthError } from '../errors.js';
import { macFor } from '../network/addresses.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { createLanHost, type LanHost } from '../testing/lan.js';
import { ipamOf, type RunContext } from '../runtime/context.js';
import { deployService, type DeployResult } from './deploy.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances } from '../runtime/instances.js';
import { removeInstances } from './operate.js';
import { steps } from '../testing/steps.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

const TOKEN = `tok-${randomBytes(6).toString('hex')}`;

describe('berth deploy on the real engine', () => {
  const step = steps();
  let fixture: Fixture;
  let lan: LanHost;
  let db: Store;
  let prefix: string;
  let bridge: string;
  const version = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\n`;

  const runConfig = (health: Record<string, unknown>) => ({
    networks: {
      lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.20`, create_bridge: true, quarantine: '0s' },
    },
    services: {
      web: { image: 'web', ports: [8080], health, secrets: { API_TOKEN: { env: 'BERTH_TEST_TOKEN' } }, env: { MODE: 'test' } },
      ghost: { image: 'unbuilt', ports: [8080] },
    },
    environments: {
      dev: { network: 'nat' },
      production: { network: 'lan', services: { web: { replicas: 3 } } },
    },
  });
  const goodHealth = { http: '/', interval: '2s', timeout: '1s', unhealthy_after: 3 };

  let project: Project;
  const context = (): RunContext => ({ project, db, hosts: new Hosts(project, fixture.engine), env: { ...fixture.env, BERTH_TEST_TOKEN: TOKEN } });
  const reload = (health: Record<string, unknown> = goodHealth) => {
    const text = stringify({ ...yamlBase, ...runConfig(health) });
    fixture.write('berth.yaml', text);
    project = loadProject(fixture.dir, fixture.env);
  };
  let yamlBase: Record<string, unknown>;
  const build = async () => {
    const summary = await buildProject(project, fixture.engine, db, { env: fixture.env, only: ['web'] });
    assert.deepEqual(summary.failed, []);
  };

  before(async () => {
    const root = await tinyRootTarball();
    // A /24 of 10.210-239.x that no Docker network or route of this machine uses.
    prefix = randomTestPrefix();
    bridge = `bt${randomBytes(3).toString('hex')}`;
    const images = {
      base: { settings: { root: { tarball: root } } },
      web: {
        settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
        static: version('v1'),
        runtime: '#!/bin/sh\necho "web: $BERTH_INSTANCE serves $(cat /www/index.html)"\n',
      },
      unbuilt: { settings: { from: 'base', command: ['sleep', '1000'] } },
    };
    fixture = await makeFixture(images);
    yamlBase = parse(readFileSync(`${fixture.dir}/berth.yaml`, 'utf8')) as Record<string, unknown>;
    project = loadProject(fixture.dir, fixture.env);
    reload();
    db = await openStore(project.stateDir);
    await build();
  });

  after(async () => {
    await lan?.dispose();
    for (const env of ['dev', 'production']) {
      const left = await listInstances(context(), { environment: env }).catch(() => []);
      if (left.length > 0) await removeInstances(context(), left, env).catch(() => {});
    }
    for (const network of ['lan', 'nat']) await removeNetwork(fixture.engine, `berth-${fixture.name}-${network}`).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  let first: DeployResult;

  step('deploys 3 instances on the flat network: each answers the LAN at its static IP, with the MAC derived from it', async () => {
    first = await deployService(context(), 'web', 'production', { timeoutMs: 120_000 });
    assert.deepEqual(first.instances.map((i) => i.slot), ['web-production-1', 'web-production-2', 'web-production-3']);
    assert.deepEqual(first.instances.map((i) => i.ip), [`${prefix}.10`, `${prefix}.11`, `${prefix}.12`]);
    lan = await createLanHost(bridge, `${prefix}.250/24`, fixture.dir);
    for (const instance of first.instances) {
      assert.equal(instance.mac, macFor(instance.ip!, '02:42'));
      const answer = await lan.fetch(`http://${instance.ip}:8080/`);
      assert.equal(answer.body.trim(), 'hello v1', `${instance.slot} at ${instance.ip}`);
      assert.equal(await lan.neighbourMac(instance.ip!), instance.mac);
    }
  });

  step('injects secrets into the service process only: not in the container config, labels or berth ps', async () => {
    const instance = first.instances[0]!;
    // The service process is busybox's httpd; exec'd processes do not get the entrypoint's exports.
    const script = 'for p in /proc/[0-9]*; do if tr "\\0" " " < $p/cmdline | grep -q "^busybox httpd"; then tr "\\0" "\\n" < $p/environ; fi; done';
    const exec = await fixture.engine.exec(instance.id, ['sh', '-c', script]);
    assert.match(exec.output, new RegExp(`^API_TOKEN=${TOKEN}$`, 'm'));
    assert.match(exec.output, /^MODE=test$/m);
    const raw = await fixture.raw.json<unknown>('GET', `/containers/${instance.id}/json`);
    assert.doesNotMatch(JSON.stringify(raw), new RegExp(TOKEN));
    assert.doesNotMatch(JSON.stringify(await listInstances(context())), new RegExp(TOKEN));
    assert.doesNotMatch(JSON.stringify(first), new RegExp(TOKEN));
  });

  let second: DeployResult;

  step('a redeploy with a new image keeps the same slots, IPs and MACs and serves the new version', async () => {
    fixture.write('images/web/static.sh', version('v2'), 0o755);
    reload();
    await build();
    second = await deployService(context(), 'web', 'production', { timeoutMs: 120_000 });
    assert.deepEqual(second.steps.map((s) => s.action), ['replace', 'replace', 'replace']);
    assert.deepEqual(second.instances.map((i) => [i.slot, i.ip, i.mac]), first.instances.map((i) => [i.slot, i.ip, i.mac]));
    assert.notDeepEqual(second.instances.map((i) => i.id), first.instances.map((i) => i.id));
    for (const instance of second.instances) assert.equal((await lan.fetch(`http://${instance.ip}:8080/`)).body.trim(), 'hello v2');
    assert.equal(await lan.neighbourMac(second.instances[0]!.ip!), second.instances[0]!.mac);
  });

  step('a health check that never passes fails the deploy with the last log lines; the previous instances still serve', async () => {
    // The same image (no build) with a health path it does not serve: its instances' spec changes, so they are replaced.
    reload({ ...goodHealth, http: '/missing' });
    await assert.rejects(
      // Long enough for the instance to start and log on a busy machine: it fails at the deadline, never healthy.
      deployService(context(), 'web', 'production', { timeoutMs: 20_000 }),
      (error: unknown) => {
        // The previous release serves again: the deploy was rolled back (exit 7), like any rollout.
        assert.ok(isBerthError(error) && error.kind === 'rolled-back', String(error));
        assert.match(error.message, /instance web-production-1 did not become healthy/);
        assert.ok(error.lines.some((l) => /answered 404/.test(l)), error.lines.join('\n'));
        assert.ok(error.lines.some((l) => /web: web-production-1 serves hello v2/.test(l)), error.lines.join('\n'));
        return true;
      },
    );
    const now = await listInstances(context(), { environment: 'production' });
    assert.deepEqual(now.map((i) => [i.slot, i.id, i.ip, i.state]), second.instances.map((i) => [i.slot, i.id, i.ip, 'running']));
    for (const instance of second.instances) assert.equal((await lan.fetch(`http://${instance.ip}:8080/`)).body.trim(), 'hello v2');
    const allocations = (await ipamOf(context()).allocations('lan'));
    assert.deepEqual(allocations.map((a) => [a.slot, a.state, a.containerId]), second.instances.map((i) => [i.slot, 'bound', i.id]));
  });

  step('nat: publishes each port on a host port, reports it, and keeps it across a redeploy', async () => {
    // Back to the health check that passes: the step before set one that never does.
    reload();
    const nat = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000 });
    const port = nat.instances[0]!.ports['8080/tcp'];
    assert.ok(port && port > 0);
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(await answer.text(), /hello v/);
    const again = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000, force: true });
    assert.equal(again.instances[0]!.ports['8080/tcp'], port);
  });

  step("nat: a slot's kept port held by another process: the instance comes back on a port the engine picks, and says so", async () => {
    const [gone] = await listInstances(context(), { environment: 'dev' });
    const kept = gone!.ports['8080/tcp']!;
    await fixture.engine.containers.remove(gone!.id);
    // What an engine restart does: another container (here a process) got the port while the slot had no container.
    const holder = createServer();
    await new Promise<void>((resolve, reject) => holder.once('error', reject).listen(kept, '0.0.0.0', resolve));
    try {
      const notes: string[] = [];
      const back = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000, onEvent: (e) => void (e.type === 'note' && notes.push(e.text)) });
      const port = back.instances[0]!.ports['8080/tcp']!;
      assert.notEqual(port, kept);
      assert.ok(notes.some((n) => n.includes(`its port ${kept} is taken`)), notes.join('\n'));
      assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /hello v/);
      // The slot keeps its new port from now on.
      const again = await deployService(context(), 'web', 'dev', { timeoutMs: 120_000, force: true });
      assert.equal(again.instances[0]!.ports['8080/tcp'], port);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  step('rm removes the instances and puts their addresses into quarantine', async () => {
    const instances = await listInstances(context(), { environment: 'production' });
    const released = await removeInstances(context(), instances, 'production');
    assert.deepEqual(released, instances.map((i) => i.ip));
    assert.deepEqual(await listInstances(context(), { environment: 'production' }), []);
    assert.deepEqual((await ipamOf(context()).allocations('lan')).map((a) => a.state), ['quarantined', 'quarantined', 'quarantined']);
  });

  it('bad input: unknown service or environment (with a suggestion), an image that was never built', async () => {
    await assert.rejects(deployService(context(), 'wbe', 'production'), /unknown service "wbe" \(did you mean "web"\?\)/);
    await assert.rejects(deployService(context(), 'web', 'prod'), /unknown environment "prod" \(did you mean "production"\?\)/);
    await assert.rejects(deployService(context(), 'ghost', 'dev'), (error: unknown) => isBerthError(error) && error.kind === 'not-found' && /has no current build/.test(error.message));
  });
});
