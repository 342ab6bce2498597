/**
 * Integration on the lab (three dockerds in network namespaces on one LAN bridge, mutual TLS;
 * the image pulled by digest from the registry on this machine's LAN address): host failure as
 * a real `berth server` handles it, with short `fleet.failure` settings. One service of busybox
 * httpd instances on a flat network over h1..h3, behind the server's HAProxy front door.
 *
 * - crash: the host with the most instances loses its link and its dockerd (its instances die
 *   with it). `berth hosts --json` shows it down; its instances come back on the other hosts
 *   with the same IP and MAC, healthy, a LAN namespace reaches each and has its MAC, and the
 *   front door serves again; the requests through the door that failed meanwhile are counted.
 * - return: link up, dockerd started again. Its engine starts none of the stale containers as it
 *   boots (in a multi-host environment their restart policy is no; runtime/restart-policy.ts), the
 *   server removes them; a LAN namespace sending ARP requests for each moved address all through
 *   the return gets at most one reply per request, from the moved instance's MAC, and so does a
 *   broadcast `arping` afterwards; every engine together runs each slot exactly once.
 *
 * The server runs on the project's own state folder, so it finds the build and the push the
 * test made in-process; it listens on loopback (no wardens: they need TLS on an address the
 * hosts reach), so a down host is lost after `stop_grace` and its instances move then.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import { connectEngine, type Engine } from '../engine/client.js';
import { push } from '../registry/testing.js';
import { openStore, closeStore } from '../store/db.js';
import { runBerth, showOutcome } from '../testing/cli.js';
import { makeFixture, type Fixture } from '../testing/fixture.js';
import { startLab, type Lab, type LabHost, type LanHost } from '../testing/lab.js';
import { labRegistry, upLabRegistry } from '../testing/lab-registry.js';
import { labWebImages, labYaml } from '../testing/lab-web.js';
import { startLoad, type LoadResult } from '../testing/load.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { stepsWithNeeds } from '../testing/steps.js';
import { until } from '../testing/until.js';

const SVC = `fo${randomBytes(3).toString('hex')}`;
const ENV = 'production';
const REPLICAS = 4;
// Short, yet a host must stay silent for about 6 s to be down (4 rounds of 1.5 s): on a machine at load 30-40 a lab
// engine's ping missed three 800 ms timeouts a second apart during the release, a false alarm that made h1 returning.
const FAILURE = { interval: '1500ms', timeout: '1500ms', suspect_after: 2, down_after: 4, settle: '10m', stop_grace: '2s' };

const { step, needs } = stepsWithNeeds();
const DEPLOY = 'a release through the server spreads 4 flat instances over the three lab hosts';
const CRASH = 'the host with the most instances crashes: down in berth hosts, its instances healthy elsewhere with the same IP and MAC, through the door';
const RETURN = 'the host comes back: its stale containers are removed, and each address answers from one place only';

interface Seen {
  host: string;
  ip: string;
  mac: string;
  id: string;
}
type HostsJson = { hosts: { name: string; health: string | null; healthReason?: string }[] };

describe('a lab host crashes and comes back, under a berth server', () => {
  let fixture: Fixture;
  let lab: Lab;
  let lan: LanHost;
  let server: TestServer;
  let url: string;
  let victim: LabHost;
  let beforeCrash: Map<string, Seen>;
  let moved: string[];
  let crashedAt: number;
  const engines = new Map<string, Engine>();

  const berth = (...args: string[]) => runBerth([...args, '-p', fixture.dir], { env: server.envFor(fixture.env), timeoutMs: 180_000 });
  const show = (r: LoadResult) => `${r.ok} ok, ${r.failed} failed in ${r.ms} ms; kinds ${JSON.stringify(r.kinds)}`;
  const trace = (line: string) => {
    if (process.env.BERTH_TEST_TRACE) console.log(`# ${new Date().toISOString()} ${line}`);
  };

  /** Every main container of the service on the hosts whose engine answers, running or not (the test's own look through the unix sockets). */
  async function containers(): Promise<(Seen & { slot: string; running: boolean })[]> {
    const found = [];
    for (const [host, engine] of engines) {
      if (!lab.hosts.find((h) => h.name === host)!.running()) continue;
      for (const c of await engine.containers.summaries([`berth.service=${SVC}`])) {
        if (c.name !== `${fixture.name}.${c.labels['berth.instance']}`) continue;
        const state = (await engine.containers.inspect(c.id))!;
        const endpoint = Object.values(state.networks)[0];
        found.push({ slot: c.labels['berth.instance']!, host, id: c.id, running: c.state === 'running', ip: endpoint?.ip ?? '', mac: (endpoint?.mac ?? '').toLowerCase() });
      }
    }
    return found;
  }

  /** Where each slot runs; fails when one runs in two places. */
  async function seen(): Promise<Map<string, Seen>> {
    const out = new Map<string, Seen>();
    for (const c of await containers()) {
      if (!c.running) continue;
      assert.ok(!out.has(c.slot), `${c.slot} runs on ${out.get(c.slot)?.host} and on ${c.host}`);
      out.set(c.slot, { host: c.host, ip: c.ip, mac: c.mac, id: c.id });
    }
    return out;
  }

  const hosts = async () => {
    const out = await berth('hosts', '--json');
    assert.equal(out.code, 0, showOutcome(out));
    return (JSON.parse(out.stdout) as HostsJson).hosts;
  };

  /** The LAN namespace's interface on the bridge (lan.ts names it bl<id>i after its namespace berth-lan-<id>). */
  const lanLink = () => `bl${lan.name.slice('berth-lan-'.length)}i`;

  /** ARP requests for `ip`, broadcast each time, from the LAN namespace: how many were sent and how many replies came, from which MACs. */
  async function arpReplies(ip: string, count = 3): Promise<{ sent: number; received: number; macs: string[] }> {
    const out = await lan.exec(['busybox', 'arping', '-b', '-c', String(count), '-w', String(count + 1), '-I', lanLink(), ip]);
    const sent = Number(/Sent (\d+) probe/.exec(out.stdout)?.[1] ?? NaN);
    const received = Number(/Received (\d+) (?:response|repl)/.exec(out.stdout)?.[1] ?? NaN);
    const macs = [...out.stdout.matchAll(/\[([0-9a-fA-F:]{17})\]/g)].map((m) => m[1]!.toLowerCase());
    assert.ok(!Number.isNaN(sent) && !Number.isNaN(received), `arping's output: ${out.stdout}${out.stderr}`);
    return { sent, received, macs };
  }

  /** What a lab engine did to the service's containers between two moments (its own event log, read through its unix socket). */
  function engineEvents(host: LabHost, sinceMs: number, untilMs: number): Promise<{ action: string; name: string; ms: number }[]> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], label: [`berth.service=${SVC}`] }));
    const path = `/v1.41/events?since=${Math.floor(sinceMs / 1000)}&until=${Math.ceil(untilMs / 1000)}&filters=${filters}`;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: host.socket, path }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: { name: string } }; timeNano: number }).map((e) => ({ action: e.Action, name: e.Actor.Attributes.name, ms: Math.round(e.timeNano / 1e6) }))));
      });
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    fixture = await makeFixture(await labWebImages());
    lab = await startLab({ hosts: 3, dir: fixture.dir });
    lan = await lab.lanHost();
    const registry = await labRegistry(lab);
    const yaml = parse(readFileSync(join(fixture.dir, 'berth.yaml'), 'utf8')) as Record<string, unknown>;
    const hostNames = lab.hosts.map((h) => h.name);
    fixture.write(
      'berth.yaml',
      stringify({
        ...yaml,
        ...labYaml(lab, registry, [100, 140]),
        fleet: { failure: FAILURE },
        services: { [SVC]: { image: 'web', ports: [8080], health: { http: '/health.html', interval: '2s', timeout: '1s' }, stop_grace: '1s', rollout: { batch_size: 2, drain: '1s' } } },
        environments: { [ENV]: { network: 'lan', lb_address: '127.0.0.1', hosts: hostNames, services: { [SVC]: { replicas: REPLICAS } } } },
        pipeline: [ENV],
      }),
    );
    await upLabRegistry(fixture, registry);
    for (const h of lab.hosts) engines.set(h.name, connectEngine({ DOCKER_HOST: `unix://${h.socket}` }));
    const project = loadProject(fixture.dir, fixture.env);
    const db = await openStore(project.stateDir);
    try {
      const summary = await buildProject(project, fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
    } finally {
      await closeStore(db);
    }
    const pushed = await push(fixture);
    assert.deepEqual(pushed.failed, [], JSON.stringify(pushed.failed));
    server = await startTestServer(fixture.dir, fixture.env, ['--allow-read', fixture.dir], { stateDir: project.stateDir });
    const applied = await berth('apply');
    assert.equal(applied.code, 0, showOutcome(applied));
  });

  after(async () => {
    if (!fixture) return;
    if (server && process.env.BERTH_TEST_TRACE) console.log(server.output().replace(/^/gm, '# server: '));
    // The server first: its host watch would see the lab go and act on it.
    await server?.stop();
    await lab?.dispose();
    await fixture.cleanup();
  });

  step(DEPLOY, async () => {
    const out = await berth('release', SVC, '--env', ENV, '--json');
    assert.equal(out.code, 0, showOutcome(out));
    const result = JSON.parse(out.stdout) as { status: string; frontDoor: { address: string; port: number } };
    assert.equal(result.status, 'succeeded');
    url = `http://${result.frontDoor.address}:${result.frontDoor.port}/`;
    beforeCrash = await seen();
    assert.equal(beforeCrash.size, REPLICAS);
    assert.deepEqual(new Set([...beforeCrash.values()].map((s) => s.host)), new Set(['h1', 'h2', 'h3']));
    // A host the watch never saw change has no recorded health (null): it has answered every ping.
    const health = await hosts();
    assert.deepEqual(health.map((h) => [h.name, h.health ?? 'up']), [['h1', 'up'], ['h2', 'up'], ['h3', 'up']], JSON.stringify(health));
  });

  step(CRASH, async () => {
    needs(DEPLOY);
    const perHost = new Map<string, number>();
    for (const s of beforeCrash.values()) perHost.set(s.host, (perHost.get(s.host) ?? 0) + 1);
    const [most] = [...perHost].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!;
    victim = lab.hosts.find((h) => h.name === most)!;
    moved = [...beforeCrash].filter(([, s]) => s.host === victim.name).map(([slot]) => slot).sort();
    trace(`crashing ${victim.name}, which runs ${moved.join(', ')}`);

    const load = startLoad(url, { concurrency: 2, pauseMs: 50, timeoutMs: 2000, maxMs: 600_000 });
    let result: LoadResult;
    crashedAt = Date.now();
    try {
      // The machine is gone from the network at once; its engine, and its instances with it, go next.
      await victim.link(false);
      await victim.stop();
      const down = await until(`${victim.name} down in berth hosts`, async () => (await hosts()).find((h) => h.name === victim.name && h.health === 'down'), 120_000, 500);
      trace(`down after ${Date.now() - crashedAt} ms: ${down.healthReason}`);
      await until(`${moved.join(', ')} running on other hosts`, async () => {
        const now = await seen();
        return moved.every((slot) => now.get(slot) && now.get(slot)!.host !== victim.name) ? true : undefined;
      }, 180_000, 500);
      // The door takes each instance in once its health check passes: a few requests in a row all answered.
      await until('the front door serves every answer again', async () => ((await startLoad(url, { concurrency: 1, maxRequests: 8, timeoutMs: 2000 }).stop()).failed === 0 ? true : undefined), 60_000, 500);
      trace(`all moved instances back and served ${Date.now() - crashedAt} ms after the crash`);
    } finally {
      result = await load.stop();
    }
    trace(`load during the crash: ${show(result)}`);
    assert.ok(result.ok > 0, show(result));

    const after = await seen();
    assert.equal(after.size, REPLICAS);
    for (const slot of moved) {
      const was = beforeCrash.get(slot)!;
      const now = after.get(slot)!;
      assert.notEqual(now.host, victim.name);
      assert.deepEqual([now.ip, now.mac], [was.ip, was.mac], `${slot} keeps its IP and MAC on ${now.host}`);
      const answer = await lan.fetch(`http://${now.ip}:8080/`);
      assert.ok(answer.ok, `the LAN cannot reach ${slot} at ${now.ip}: ${answer.body}`);
      assert.equal(await lan.neighbourMac(now.ip), now.mac, `the LAN's neighbour table has ${slot}'s MAC`);
    }
    // The instances that did not move were not touched.
    for (const [slot, was] of beforeCrash) if (!moved.includes(slot)) assert.equal(after.get(slot)?.id, was.id, `${slot} was left alone`);

    // The instances serve before the failover rollout has finished its last steps (the door's, the record): wait for its end.
    const failovers = async () => {
      const history = await berth('history', SVC, '--env', ENV, '--json');
      assert.equal(history.code, 0, showOutcome(history));
      return (JSON.parse(history.stdout) as { rollouts: { kind: string; status: string; actor?: string }[] }).rollouts;
    };
    const rollouts = await until('the failover rollout ended', async () => {
      const all = await failovers();
      return all.some((r) => r.kind === 'failover' && r.status === 'running') ? undefined : all;
    }, 120_000, 500);
    assert.deepEqual(rollouts.filter((r) => r.kind === 'failover').map((r) => r.status), ['succeeded'], JSON.stringify(rollouts));
    const door = await startLoad(url, { concurrency: 1, maxRequests: 12, timeoutMs: 2000 }).stop();
    assert.equal(door.failed, 0, show(door));
  });

  step(RETURN, async () => {
    needs(CRASH);
    const movedTo = await seen();
    // From the LAN, all through the return: ARP requests for each moved address, one a second, broadcast.
    const watching = Promise.all(moved.map(async (slot) => [slot, await arpReplies(movedTo.get(slot)!.ip, 20)] as const));
    await victim.link(true);
    await victim.start();
    const engine = engines.get(victim.name)!;
    await until(`${victim.name} returning in berth hosts`, async () => (await hosts()).find((h) => h.name === victim.name && h.health === 'returning'), 120_000, 500);
    // Removed before the host counts as returning: nothing of the service is left on it.
    assert.deepEqual((await engine.containers.summaries([`berth.service=${SVC}`])).map((c) => c.name), []);
    const events = await engineEvents(victim, crashedAt, Date.now() + 1000);
    trace(`${victim.name}'s engine since the crash: ${events.filter((e) => !e.action.startsWith('exec_')).map((e) => `${e.action} ${e.name}`).join(', ')}`);
    const stale = moved.map((slot) => `${fixture.name}.${slot}`).sort();
    assert.deepEqual([...new Set(events.filter((e) => e.action === 'destroy').map((e) => e.name))].sort(), stale, 'the stale containers were removed');
    // In a three-host environment their restart policy is no: the engine's boot did not start them, so they never answered.
    assert.deepEqual(events.filter((e) => e.action === 'start' && stale.includes(e.name)).map((e) => e.name), [], 'the returning engine started none of its stale containers');
    for (const [slot, arp] of await watching) {
      trace(`ARP for ${slot} during the return: ${JSON.stringify({ ...arp, macs: [...new Set(arp.macs)] })}`);
      assert.ok(arp.received > 0 && arp.received <= arp.sent, `${slot} answered at most once per request during the return: ${JSON.stringify(arp)}`);
      assert.deepEqual(new Set(arp.macs), new Set([movedTo.get(slot)!.mac]));
    }

    // Before anything else asks for them: the front door and the LAN reach each moved instance where it moved.
    const door = await startLoad(url, { concurrency: 1, maxRequests: 12, timeoutMs: 2000 }).stop();
    assert.equal(door.failed, 0, show(door));
    const now = await seen();
    assert.deepEqual([...now.keys()].sort(), [...beforeCrash.keys()].sort());
    for (const slot of moved) {
      const where = now.get(slot)!;
      assert.notEqual(where.host, victim.name, `${slot} stays where it moved`);
      const answer = await lan.fetch(`http://${where.ip}:8080/`);
      assert.ok(answer.ok, `the LAN cannot reach ${slot} at ${where.ip} after ${victim.name} came back: ${answer.body}`);
      const arp = await arpReplies(where.ip);
      assert.equal(arp.received, arp.sent, `${where.ip} answers from one place only: ${JSON.stringify(arp)}`);
      assert.deepEqual(new Set(arp.macs), new Set([where.mac]));
    }
    const status = await hosts();
    assert.equal(status.find((h) => h.name === victim.name)?.health, 'returning', 'it takes no new work until it settles');
  });
});
