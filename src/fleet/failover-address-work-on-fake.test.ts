/**
 * A failover's address work on FakeEngines (h3 lost, its two flat instances recreated on h1 and h2):
 * where the new hosts run a warden, the warden does the duplicate check and the announcement, one
 * exec each in its container (the same arping as the helpers ran: from the flat network's bridge,
 * and inside the instance's namespace by its pid), and no helper container is made; an address that
 * answers is still refused. Without a warden the two helper containers per moved instance do it as
 * before. Each run counts the engine calls on the new hosts, per moved instance.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { allSlots } from '../store/deployments.js';
import { setHostHealth } from '../store/host-health.js';
import type { FakeEngine } from '../testing/fake-engine.js';
import { fakeProject, type FakeProject } from '../testing/fake-project.js';
import { releaseService } from '../release/operations.js';
import { failoverOnce, type FailoverEvent } from './failover.js';
import { WARDEN_NAME, wardenBody } from './warden-spec.js';

const HOSTS = ['h1', 'h2', 'h3'];
const SILENT = (ip: string) => `ARPING ${ip} from 0.0.0.0 br-fake\nSent 2 probe(s) (0 broadcast(s))\nReceived 0 response(s) (0 request(s), 0 broadcast(s))\n`;
const ANSWERED = (ip: string) => `ARPING ${ip} from 0.0.0.0 br-fake\nUnicast reply from ${ip} [02:42:0A:4D:00:99] 0.031ms\nSent 1 probe(s) (0 broadcast(s))\nReceived 1 response(s) (0 request(s), 0 broadcast(s))\n`;
/** The container calls an engine answers; an exec is three (create, start, inspect the exec), one when refused. */
const CALLS = ['create', 'start', 'stop', 'restart', 'remove', 'wait', 'inspect', 'rename', 'putArchive', 'getArchive', 'processConfig', 'summaries', 'list', 'logs', 'follow'] as const;

interface Run {
  p: FakeProject;
  /** [host, argv] of every exec in a warden. */
  wardenExecs: [string, string[]][];
  /** [host, name] of every helper container created. */
  helpers: [string, string][];
  /** Engine API calls on h1 and h2 from the moment h3 is lost, by kind. */
  calls: Map<string, number>;
  stop: AbortController;
}

/** Six flat instances over h1..h3 released, then h3 lost; with `wardens`, h1 and h2 run one, whose arping -D hears `answer`. */
async function lostH3(prefix: string, options: { wardens: boolean; answer?: 'nobody' | 'someone' }): Promise<Run> {
  const p = await fakeProject(prefix, {
    push: true,
    config: {
      project: 'shop',
      images: { web: { root: {} } },
      hosts: HOSTS.map((name) => ({ name, engine: `unix:///run/berth-fake-${name}.sock` })),
      networks: { lan: { mode: 'flat', bridge: 'br-fake', create_bridge: true, subnet: '10.77.0.0/24', gateway: '10.77.0.1', range: '10.77.0.100-10.77.0.140', quarantine: '0s' } },
      services: { web: { image: 'web', ports: [8080], replicas: 6, health: { command: ['check-web'], interval: '1s' }, stop_grace: '1s' } },
      environments: { prod: { network: 'lan', lb_address: '127.0.0.1', hosts: HOSTS } },
    },
  });
  const run: Run = { p, wardenExecs: [], helpers: [], calls: new Map(), stop: new AbortController() };
  assert.equal((await releaseService(p.context, 'web', 'prod', { door: p.door, timeoutMs: 10_000, image: 'berth/web:v1' })).status, 'succeeded');
  for (const host of ['h1', 'h2']) {
    const engine = p.engines.get(host)!;
    void answerHelpers(engine, host, run).catch(() => {});
    if (!options.wardens) continue;
    const image = engine.addImage({ tags: ['berth-warden/warden:latest'], labels: { 'berth.role': 'warden' } });
    const id = await engine.containers.create(wardenBody({ host, image, server: 'https://10.0.0.1:7878', project: 'shop', renewSeconds: 2, stopGraceSeconds: 5, socket: '/var/run/docker.sock' }));
    await engine.containers.start(id);
    engine.scriptExec((c, cmd) => {
      if (c.name !== WARDEN_NAME) return undefined;
      run.wardenExecs.push([host, cmd]);
      const ip = cmd.at(-1)!;
      if (cmd[1] === 'arping') return { exitCode: options.answer === 'someone' ? 1 : 0, output: options.answer === 'someone' ? ANSWERED(ip) : SILENT(ip) };
      if (cmd[1] === 'nsenter') return { exitCode: 0, output: `ARPING ${ip} from ${ip} eth0\nSent 2 probe(s) (2 broadcast(s))\nReceived 0 response(s) (0 request(s), 0 broadcast(s))\n` };
      return undefined;
    });
  }
  run.calls = countCalls([p.engines.get('h1')!, p.engines.get('h2')!]);
  p.engines.get('h3')!.stopAnswering();
  await setHostHealth(p.db, { name: 'h3', state: 'down', since: Date.now() - 60_000, reason: 'the test took it down' });
  return run;
}

/** The helpers of a move on a host without a warden: arping -D hears nobody, the announcement succeeds. */
async function answerHelpers(engine: FakeEngine, host: string, run: Run): Promise<void> {
  for await (const e of engine.events({ type: ['container'], event: ['start'] }, run.stop.signal)) {
    const name = e.attributes.name ?? '';
    if (!name.endsWith('-arp-check') && !name.endsWith('-arp-announce')) continue;
    run.helpers.push([host, name]);
    if (name.endsWith('-arp-check')) engine.write(e.id, SILENT('10.77.0.1xx'));
    engine.exit(e.id, 0);
  }
}

/** Counts the engine API calls of `engines` by kind from now on. */
function countCalls(engines: FakeEngine[]): Map<string, number> {
  const calls = new Map<string, number>();
  const add = (kind: string, n = 1) => calls.set(kind, (calls.get(kind) ?? 0) + n);
  for (const engine of engines) {
    const containers = engine.containers as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of CALLS) {
      const original = containers[name]!.bind(engine.containers);
      containers[name] = (...args: unknown[]) => {
        add(name);
        return original(...args);
      };
    }
    const exec = engine.exec.bind(engine);
    engine.exec = async (container, cmd) => {
      const kind = container === WARDEN_NAME ? 'exec (warden)' : 'exec (health check)';
      try {
        const result = await exec(container, cmd);
        add(kind, 3);
        return result;
      } catch (error) {
        // Refused at its create (no such container, or not running): one call.
        add(`${kind} refused`);
        throw error;
      }
    };
  }
  return calls;
}

/** Per moved instance, by kind, and the total. */
function perInstance(calls: Map<string, number>, moved: number): { total: number; byKind: string } {
  const total = [...calls.values()].reduce((a, b) => a + b, 0) / moved;
  return { total, byKind: [...calls].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n / moved}`).join(', ') };
}

/** The slots h3 had, and the addresses they keep. */
async function h3Slots(p: FakeProject): Promise<{ slot: string; ip: string }[]> {
  const slots = (await allSlots(p.db, 'prod')).filter((s) => s.host === 'h3').map((s) => s.slot).sort();
  const h3 = p.engines.get('h3')!;
  h3.answerAgain();
  const out = await Promise.all(slots.map(async (slot) => ({ slot, ip: (await h3.containers.inspect(`shop.${slot}`))!.networks['berth-shop-lan']!.ip })));
  h3.stopAnswering();
  return out;
}

/** What the rollouts told the operator about each instance. */
const said: string[] = [];
const options = (p: FakeProject, events: FailoverEvent[]) => ({
  rollout: () => ({ door: p.door, timeoutMs: 10_000, emit: (e: { type: string; slot?: string; text?: string }) => void (e.type === 'instance' && said.push(`${e.slot}: ${e.text}`)) }),
  emit: (e: FailoverEvent) => void events.push(e),
});
const figures: Record<string, { total: number; byKind: string }> = {};

describe("a failover's address work", () => {
  const runs: Run[] = [];
  after(async () => {
    for (const r of runs) {
      r.stop.abort();
      await r.p.close();
    }
    // The figures for BENCHMARKS.md: engine API calls on the new hosts per moved instance, helpers against the warden.
    for (const [by, f] of Object.entries(figures)) console.log(`# engine calls per moved instance, ${by}: ${f.total} (${f.byKind})`);
  });

  it('with wardens on h1 and h2: one arping -D from the bridge and one announcement in the instance\'s namespace per moved instance, no helper container', async () => {
    const r = await lostH3('failover-arp-warden', { wardens: true });
    runs.push(r);
    const moving = await h3Slots(r.p);
    assert.equal(moving.length, 2);
    const events: FailoverEvent[] = [];
    await failoverOnce(r.p.context, options(r.p, events));
    assert.deepEqual(events.map((e) => [e.type, e.type === 'failover' ? e.outcome : '']), [['failover', 'succeeded']], JSON.stringify(events));
    assert.deepEqual(r.helpers, [], 'no helper container');
    const slots = new Map((await allSlots(r.p.db, 'prod')).map((s) => [s.slot, s.host]));
    for (const { slot, ip } of moving) {
      const host = slots.get(slot)!;
      assert.ok(['h1', 'h2'].includes(host), `${slot} on ${host}`);
      const state = (await r.p.engines.get(host)!.containers.inspect(`shop.${slot}`))!;
      assert.equal(state.networks['berth-shop-lan']?.ip, ip, 'it kept its address');
      const execs = r.wardenExecs.filter(([h, cmd]) => h === host && cmd.at(-1) === ip).map(([, cmd]) => cmd);
      assert.deepEqual(execs, [
        ['/bin/busybox', 'arping', '-D', '-c', '2', '-w', '3', '-I', 'br-fake', ip],
        ['/bin/busybox', 'nsenter', `--net=/proc/${state.pid}/ns/net`, '/bin/busybox', 'arping', '-U', '-c', '2', '-I', 'eth0', ip],
      ]);
    }
    assert.equal(r.wardenExecs.length, 4);
    for (const { slot, ip } of moving) {
      assert.ok(said.some((t) => new RegExp(`^${slot}: nobody answers for ${ip.replaceAll('.', '\\.')} on the LAN \\(checked from h[12] in \\d+ ms by its warden\\)$`).test(t)), said.join('\n'));
      assert.ok(said.some((t) => new RegExp(`^${slot}: announced ${ip.replaceAll('.', '\\.')} on the LAN from h[12] in \\d+ ms by its warden$`).test(t)), said.join('\n'));
    }
    said.splice(0);
    figures.warden = perInstance(r.calls, moving.length);
  });

  it('with a warden whose arping -D hears a reply: the move is refused naming the MAC, and nothing of the slot runs on its new host', async () => {
    const r = await lostH3('failover-arp-answered', { wardens: true, answer: 'someone' });
    runs.push(r);
    const moving = await h3Slots(r.p);
    const events: FailoverEvent[] = [];
    await failoverOnce(r.p.context, options(r.p, events));
    assert.deepEqual(events.map((e) => [e.type, e.type === 'failover' ? e.outcome : '']), [['failover', 'failed']]);
    assert.match(events[0]!.message, /is already answered on the LAN by 02:42:0a:4d:00:99/);
    assert.deepEqual(r.helpers, [], 'a reply is final: no helper asked again');
    assert.equal(r.wardenExecs.filter(([, cmd]) => cmd[1] === 'nsenter').length, 0, 'nothing announced');
    for (const { slot } of moving) {
      for (const host of ['h1', 'h2']) assert.equal((await r.p.engines.get(host)!.containers.inspect(`shop.${slot}`))?.running ?? false, false, `${slot} not running on ${host}`);
    }
  });

  it('without wardens: the two helper containers per moved instance, as before', async () => {
    const r = await lostH3('failover-arp-helpers', { wardens: false });
    runs.push(r);
    const moving = await h3Slots(r.p);
    const events: FailoverEvent[] = [];
    await failoverOnce(r.p.context, options(r.p, events));
    assert.deepEqual(events.map((e) => [e.type, e.type === 'failover' ? e.outcome : '']), [['failover', 'succeeded']], JSON.stringify(events));
    assert.deepEqual(r.helpers.map(([, name]) => name.replace(/^shop\./, '')).sort(), moving.flatMap(({ slot }) => [`${slot}-arp-announce`, `${slot}-arp-check`]).sort());
    assert.deepEqual(r.wardenExecs, []);
    assert.equal(said.filter((t) => / by a helper container: no warden on the host\)?$/.test(t)).length, 2 * moving.length, said.join('\n'));
    figures.helpers = perInstance(r.calls, moving.length);
    assert.deepEqual([r.calls.get('exec (warden)'), r.calls.get('exec (warden) refused')], [undefined, 2 * moving.length], 'one refused exec per check: no warden there');
    if (figures.warden !== undefined) assert.ok(figures.warden.total < figures.helpers.total, `fewer engine calls with the warden: ${figures.warden.total} against ${figures.helpers.total}`);
  });
});
