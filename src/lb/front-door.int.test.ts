/**
 * A real door container (HAProxy from the door image, on the host's network)
 * in front of tiny node HTTP servers on 127.0.0.1 that answer their own name;
 * every change goes through the runtime API, by exec in the container.
 */
import assert from 'node:assert/strict';
import { Agent, createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectEngine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import { closeStore, openStore } from '../store/db.js';
import { sleep } from '../time.js';
import { doorContainerName } from './door-container.js';
import { DOOR_IMAGE, DOOR_PATHS } from './door-image.js';
import { ensureFrontDoor, freePort, frontDoorStatus, memberRuntime, stopFrontDoor, syncServers, type DoorMember, type DoorPlace } from './front-door.js';
import type { FrontDoorSpec, LbServer } from './model.js';
import { claimTestDir, type TestDir } from '../testing/fixture.js';
import { steps } from '../testing/steps.js';

const engine = connectEngine();
const member: DoorMember = { host: 'local', engine, local: true };

/** The door image (built once by the hierarchy builder, then found by its key) and a place on the local engine for the test's project. */
async function localPlace(owned: TestDir): Promise<DoorPlace> {
  const db = await openStore(owned.dir);
  const image = await ensureSystemImage(DOOR_IMAGE, { engine, db, env: process.env }).finally(() => closeStore(db));
  return { project: owned.name, members: [member], image: async () => image };
}

/** The config file in the door's container. */
async function configIn(container: string): Promise<string> {
  const result = await engine.exec(container, ['cat', DOOR_PATHS.config]);
  assert.equal(result.exitCode, 0, result.output);
  return result.output;
}

interface Backend {
  name: string;
  port: number;
  server: Server;
  /** Requests to /held that wait for release(). */
  held(): number;
  release(): void;
}

/** Answers its name; /held only when the test calls release(). */
function startBackend(name: string): Promise<Backend> {
  const waiting: (() => void)[] = [];
  const server = createServer((req, res) => {
    const answer = () => res.end(name);
    if (req.url === '/held') waiting.push(answer);
    else answer();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ name, port: (server.address() as AddressInfo).port, server, held: () => waiting.length, release: () => waiting.splice(0).forEach((answer) => answer()) }),
    ),
  );
}

/** Polls `probe` until it gives a value; fails naming `what` only after a deadline no busy machine reaches. */
async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not so after ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

function stopBackend(b: Backend): Promise<void> {
  return new Promise((resolve) => {
    b.server.close(() => resolve());
    b.server.closeAllConnections();
  });
}

interface Answer {
  status: number;
  body: string;
  error?: string;
}

/** `idleMs`: how long the answer may keep silent before the request is given up. */
function get(port: number, path = '/', agent: Agent | false = false, idleMs = 10_000): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
    });
    req.setTimeout(idleMs, () => req.destroy(new Error(`timeout: no answer within ${idleMs / 1000} s`)));
    req.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
    req.end();
  });
}

describe('front door (HAProxy in a container)', () => {
  const step = steps();
  // The test's project labels its door containers: its cleanup (or a later sweep) removes them.
  let owned: TestDir | undefined;
  let place: DoorPlace;
  let spec: FrontDoorSpec;
  let container: string;
  const backends = new Map<string, Backend>();
  /** Answers per backend name, over every request these tests sent through the front door. */
  const served = new Map<string, number>();
  let sent = 0;

  const slot = (b: Backend, extra: Partial<LbServer> = {}): LbServer => ({ name: `hello-node-test-${b.name}`, address: '127.0.0.1', port: b.port, weight: 1, state: 'ready', ...extra });
  const backend = (name: string) => backends.get(name)!;
  const through = async (path = '/', agent: Agent | false = false, idleMs?: number): Promise<Answer> => {
    const answer = await get(spec.bind.port, path, agent, idleMs);
    sent++;
    if (answer.status === 200) served.set(answer.body, (served.get(answer.body) ?? 0) + 1);
    return answer;
  };
  const many = async (n: number): Promise<string[]> => {
    const bodies: string[] = [];
    for (let i = 0; i < n; i++) {
      const answer = await through();
      assert.equal(answer.status, 200, answer.error ?? answer.body);
      bodies.push(answer.body);
    }
    return bodies;
  };
  const count = (bodies: string[], name: string) => bodies.filter((b) => b === name).length;

  before(async () => {
    owned = await claimTestDir();
    place = await localPlace(owned);
    for (const name of ['a', 'b', 'c']) backends.set(name, await startBackend(name));
    spec = { id: 'test-hello-node', bind: { address: '127.0.0.1', port: await freePort('127.0.0.1') }, servers: [slot(backend('a')), slot(backend('b'))] };
    container = doorContainerName(owned.name, spec.id);
  });
  const startedAt = async () => (await engine.containers.inspect(container))?.startedAt;

  after(async () => {
    await Promise.all([...backends.values()].map(stopBackend));
    await owned?.cleanup();
  });

  step('starts a door container with two servers, and requests alternate between them', async () => {
    const status = await ensureFrontDoor(spec, place);
    assert.equal(status.running, true);
    assert.equal(status.address, `127.0.0.1:${spec.bind.port}`);
    assert.deepEqual(status.members.map((m) => [m.host, m.container, m.state, m.role]), [['local', container, 'running', '']]);
    const state = await engine.containers.inspect(container);
    assert.equal(state?.labels['berth.project'], owned!.name);
    assert.deepEqual(status.servers.map((s) => [s.name, s.state, s.weight]), [['hello-node-test-a', 'ready', 1], ['hello-node-test-b', 'ready', 1]]);
    const bodies = await many(10);
    for (let i = 1; i < bodies.length; i++) assert.notEqual(bodies[i], bodies[i - 1], bodies.join(' '));
    assert.deepEqual([count(bodies, 'a'), count(bodies, 'b')], [5, 5]);
  });

  step('shares requests by weight: 9:1 sends about 10% to the second', async () => {
    spec.servers = [slot(backend('a'), { weight: 9 }), slot(backend('b'), { weight: 1 })];
    const result = await syncServers(spec, place);
    assert.deepEqual(result.changes, [{ op: 'weight', name: 'hello-node-test-a', weight: 9 }]);
    const bodies = await many(200);
    const second = count(bodies, 'b');
    assert.ok(second >= 10 && second <= 30, `b answered ${second} of 200`);
  });

  step('counts what it served: 2xx per server and at the frontend match the requests sent', async () => {
    const status = await frontDoorStatus(spec, place);
    for (const name of ['a', 'b']) {
      const server = status.servers.find((s) => s.name === `hello-node-test-${name}`)!;
      assert.equal(server.responses['2xx'], served.get(name), `server ${name}`);
      assert.equal(server.requests, served.get(name));
    }
    assert.equal(status.frontend.responses['2xx'], sent);
    assert.equal(status.frontend.requests, sent);
    assert.equal(status.frontend.responses['5xx'], 0);
  });

  step('adds a third server at run time, without a reload', async () => {
    const before = await frontDoorStatus(spec, place);
    const started = await startedAt();
    spec.servers = [slot(backend('a')), slot(backend('b')), slot(backend('c'))];
    // ensureFrontDoor on a running front door applies the servers like syncServers.
    const status = await ensureFrontDoor(spec, place);
    assert.equal(await startedAt(), started, 'HAProxy was not restarted');
    assert.equal(status.frontend.requests, before.frontend.requests, 'its counters go on');
    assert.equal(status.servers.find((s) => s.name === 'hello-node-test-c')?.state, 'ready');
    assert.match(await configIn(container), /server hello-node-test-c 127\.0\.0\.1:\d+ weight 1$/m);
    const bodies = await many(30);
    const shares = ['a', 'b', 'c'].map((n) => count(bodies, n));
    assert.ok(shares.every((n) => n >= 7 && n <= 13), `a, b, c answered ${shares.join(', ')} of 30`);
  });

  step('drains a server: its request in flight completes, new ones go elsewhere, then it is removed', async () => {
    // Held by its server until the drain has been seen: as long as the door's changes (each an exec) and 20 requests take on this machine, not a fixed 10 s.
    const held = through('/held', false, 300_000);
    const runtime = memberRuntime(member, container);
    const holder = await waitFor(() => [...backends.values()].find((b) => b.held() > 0), 'the held request reached a server');
    const busy = `hello-node-test-${holder.name}`;
    spec.servers = spec.servers.map((s) => (s.name === busy ? { ...s, state: 'drain' } : s));
    await syncServers(spec, place);
    const events: string[] = [];
    const drained = runtime.waitDrained(busy, 120_000).then((d) => {
      events.push('drained');
      return d;
    });
    const bodies = await many(20);
    assert.equal(bodies.filter((b) => `hello-node-test-${b}` === busy).length, 0, `the draining ${busy} got new requests: ${bodies.join(' ')}`);
    // The server still holds its request, so the drain cannot be over, however long the 20 requests took.
    assert.equal(events.length, 0, 'waitDrained returned while the server still held a request');
    events.push('released');
    holder.release();
    const answer = await held;
    assert.equal(answer.status, 200, answer.error);
    assert.equal(`hello-node-test-${answer.body}`, busy);
    assert.equal(await drained, true);
    assert.deepEqual(events, ['released', 'drained']);
    assert.equal((await runtime.stats()).find((s) => s.name === busy)?.status, 'DRAIN');

    spec.servers = spec.servers.filter((s) => s.name !== busy);
    const result = await syncServers(spec, place);
    assert.deepEqual(result, { changes: [{ op: 'remove', name: busy }], cut: [] });
    assert.deepEqual((await runtime.stats()).map((s) => s.name), spec.servers.map((s) => s.name));
    assert.doesNotMatch(await configIn(container), new RegExp(`server ${busy} `));
  });

  it('refuses a port another process listens on', async () => {
    const other = createTcpServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as AddressInfo).port;
    try {
      const taken: FrontDoorSpec = { id: 'test-other', bind: { address: '127.0.0.1', port }, servers: [slot(backend('a'))] };
      const portTaken = (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.kind, 'conflict');
        assert.equal(e.message, `front door test-other: port ${port} on 127.0.0.1 is taken by another process`);
        assert.match(e.fix ?? '', /lb_port/);
        return true;
      };
      // Checked before the container is made on this machine's engine; seen in HAProxy's log on another host's.
      await assert.rejects(ensureFrontDoor(taken, place), portTaken);
      await assert.rejects(ensureFrontDoor(taken, { ...place, members: [{ ...member, local: false }] }), portTaken);
      assert.equal(await engine.containers.inspect(doorContainerName(owned!.name, taken.id)), undefined, 'no door container is left restarting');
    } finally {
      other.close();
    }
  });

  it('explains why HAProxy ended right after it started, and leaves no container', async () => {
    // An address of no interface here: HAProxy cannot bind it (checked by HAProxy itself on a host that is not this machine).
    const broken: FrontDoorSpec = { id: 'test-broken', bind: { address: '192.0.2.1', port: await freePort() }, servers: [] };
    await assert.rejects(ensureFrontDoor(broken, { ...place, members: [{ ...member, local: false }] }), (e: unknown) => {
      assert.ok(isBerthError(e));
      assert.equal(e.kind, 'failed');
      assert.equal(e.message, 'front door test-broken on local: HAProxy ended right after it started');
      assert.ok(e.lines.some((l) => l.includes('[ALERT]') && l.includes('cannot bind socket')), e.lines.join('\n'));
      return true;
    });
    assert.equal(await engine.containers.inspect(doorContainerName(owned!.name, broken.id)), undefined);
  });

  step('serves without a failed request while a server is drained, removed and stopped and a new one added', async () => {
    backends.set('d', await startBackend('d'));
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const failures: string[] = [];
    const bodies: string[] = [];
    let changesDone = false;
    let total = 0;
    const worker = async () => {
      while ((total < 300 || !changesDone) && total < 5000) {
        total++;
        const answer = await through('/', agent);
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.error ?? answer.body}`);
        else bodies.push(answer.body);
      }
    };
    const changes = async () => {
      while (total < 50) await sleep(5);
      const leaving = spec.servers[0]!;
      spec.servers = spec.servers.map((s) => (s === leaving ? { ...s, state: 'drain' } : s));
      await syncServers(spec, place);
      assert.equal(await memberRuntime(member, container).waitDrained(leaving.name, 120_000), true, `${leaving.name} drained`);
      spec.servers = spec.servers.filter((s) => s.name !== leaving.name);
      await syncServers(spec, place);
      const name = leaving.name.replace('hello-node-test-', '');
      await stopBackend(backend(name));
      backends.delete(name);
      const before = bodies.length;
      spec.servers = [...spec.servers, slot(backend('d'))];
      await syncServers(spec, place);
      await waitFor(() => bodies.slice(before).includes('d') || total >= 5000, 'the new server d answered (or the load ended)').finally(() => (changesDone = true));
      return name;
    };
    try {
      const [stopped] = await Promise.all([changes(), worker(), worker(), worker(), worker()]);
      assert.deepEqual(failures, []);
      assert.ok(total >= 300);
      assert.ok(bodies.includes('d'), 'the new server got requests');
      const lastOfStopped = bodies.lastIndexOf(stopped);
      assert.ok(lastOfStopped < bodies.indexOf('d'), 'the removed server got nothing after the new one came');
    } finally {
      agent.destroy();
    }
  });

  step('loses no request when an instance dies while it is still in the rotation (retries on another)', async () => {
    const dying = backend(spec.servers[0]!.name.replace('hello-node-test-', ''));
    const failures: string[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let total = 0;
    const worker = async () => {
      while (total < 200) {
        total++;
        if (total === 60) void stopBackend(dying);
        const answer = await through('/', agent);
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.error ?? answer.body}`);
      }
    };
    try {
      await Promise.all([worker(), worker(), worker(), worker()]);
    } finally {
      agent.destroy();
    }
    assert.deepEqual(failures, []);
    const status = await frontDoorStatus(spec, place);
    const dead = status.servers.find((s) => s.name === `hello-node-test-${dying.name}`)!;
    assert.ok(dead.errors.redispatched + dead.errors.retried > 0, JSON.stringify(dead.errors));
    assert.ok(status.backend.redispatches > 0);
    backends.delete(dying.name);
    spec.servers = spec.servers.filter((s) => s.name !== dead.name);
    await syncServers(spec, place);
  });

  step('comes back by itself with the current servers and states after HAProxy died (the engine restarts it)', async () => {
    backends.set('e', await startBackend('e'));
    spec.servers = [...spec.servers, slot(backend('e'), { state: 'drain', weight: 5 })];
    await syncServers(spec, place);
    const before = await engine.containers.inspect(container);
    const killed = await engine.exec(container, ['sh', '-c', 'kill -KILL $(pidof haproxy)']);
    assert.equal(killed.exitCode, 0, killed.output);
    await waitFor(async () => ((await engine.containers.inspect(container))?.restartCount ?? 0) > before!.restartCount, 'the engine restarted the door');
    const status = await waitFor(async () => {
      const now = await frontDoorStatus(spec, place);
      return now.running && now.problem === undefined ? now : undefined;
    }, 'the restarted door answers');
    // The config written with the last change has the servers; the drain state comes back with weight 0.
    assert.deepEqual(
      status.servers.map((s) => [s.name, s.state === 'drain' ? 'drain-or-weight-0' : s.weight === 0 ? 'drain-or-weight-0' : s.state]),
      spec.servers.map((s) => [s.name, s.state === 'drain' ? 'drain-or-weight-0' : s.state]),
    );
    const bodies = await many(10);
    assert.deepEqual(count(bodies, 'e'), 0);
    // ensureFrontDoor (what a rollout's front-door step and the reconciler run) puts the drain state back.
    const ensured = await ensureFrontDoor(spec, place);
    assert.equal(ensured.servers.find((s) => s.name === 'hello-node-test-e')?.status, 'DRAIN');
  });

  step('moves a server to a new port, takes a new listening port with a new container, and stops cleanly', async () => {
    const moved = backend('e');
    spec.servers = [{ ...spec.servers.at(-1)!, state: 'ready', weight: 1 }];
    await syncServers(spec, place);
    assert.deepEqual(await many(3), ['e', 'e', 'e']);
    const next = await startBackend('f');
    backends.set('f', next);
    spec.servers = [{ ...spec.servers[0]!, port: next.port }];
    const result = await syncServers(spec, place);
    assert.deepEqual(result.changes, [{ op: 'address', name: `hello-node-test-${moved.name}`, address: '127.0.0.1', port: next.port }]);
    assert.deepEqual(await many(3), ['f', 'f', 'f']);

    // A new port cannot be applied at run time: the member is made again on it.
    const oldPort = spec.bind.port;
    spec.bind = { ...spec.bind, port: await freePort('127.0.0.1') };
    const before = (await engine.containers.inspect(container))!.id;
    const status = await ensureFrontDoor(spec, place);
    assert.notEqual((await engine.containers.inspect(container))!.id, before);
    assert.equal(status.address, `127.0.0.1:${spec.bind.port}`);
    assert.deepEqual(await many(2), ['f', 'f']);
    assert.equal((await get(oldPort)).status, 0, 'nothing listens on the old port');

    assert.equal(await stopFrontDoor(spec.id, place, 2000), true);
    assert.equal(await engine.containers.inspect(container), undefined);
    assert.equal((await frontDoorStatus(spec, place)).running, false);
    assert.equal(await stopFrontDoor(spec.id, place), false);
  });
});

/**
 * Retries after a request reached a server: a server that reads the whole
 * request and closes without an answer (as one that crashed while processing
 * it). A GET is sent again to the other server; a POST is not, since the first
 * one may have done its work.
 */
describe('front door retries (HAProxy in a container)', () => {
  let owned: TestDir | undefined;
  let spec: FrontDoorSpec;
  /** "METHOD id" of every request each server received, in order. */
  const received = { mute: [] as string[], good: [] as string[] };
  const servers: Server[] = [];

  const listen = (server: Server) =>
    new Promise<number>((resolve) => {
      servers.push(server);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });

  const send = (method: 'GET' | 'POST', id: string): Promise<Answer> =>
    new Promise((resolve) => {
      const body = method === 'POST' ? `order ${id}` : '';
      const headers = { 'x-request-id': id, ...(body ? { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } : {}) };
      const req = request({ host: '127.0.0.1', port: spec.bind.port, path: '/orders', method, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
      req.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
      req.end(body);
    });

  const deliveries = (id: string) => [...received.mute.filter((r) => r.endsWith(` ${id}`)).map(() => 'mute'), ...received.good.filter((r) => r.endsWith(` ${id}`)).map(() => 'good')];

  before(async () => {
    owned = await claimTestDir();
    const place = await localPlace(owned);
    // Reads the whole request, then closes the connection without a byte of answer.
    const mute = await listen(
      createServer((req) => {
        req.resume();
        req.on('end', () => {
          received.mute.push(`${req.method} ${String(req.headers['x-request-id'])}`);
          req.socket.destroy();
        });
      }),
    );
    const good = await listen(
      createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          received.good.push(`${req.method} ${String(req.headers['x-request-id'])}`);
          res.end('good');
        });
      }),
    );
    const server = (name: string, port: number): LbServer => ({ name, address: '127.0.0.1', port, weight: 1, state: 'ready' });
    spec = { id: 'test-retries', bind: { address: '127.0.0.1', port: await freePort('127.0.0.1') }, servers: [server('mute', mute), server('good', good)] };
    await ensureFrontDoor(spec, place);
  });

  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await owned?.cleanup();
  });

  it('delivers a POST to exactly one server: one that closed without an answer is not sent it again', async () => {
    // Round robin over two servers: within a few POSTs one meets the mute server.
    const answers = new Map<string, Answer>();
    for (let i = 1; i <= 10 && received.mute.length === 0; i++) answers.set(`post-${i}`, await send('POST', `post-${i}`));
    const muted = received.mute.map((r) => r.split(' ')[1]!);
    assert.ok(muted.length > 0, `no POST reached the mute server: ${JSON.stringify(received)}`);
    for (const [id, answer] of answers) {
      assert.equal(deliveries(id).length, 1, `${id} was delivered ${deliveries(id).length} times: ${deliveries(id).join(', ')}`);
      if (muted.includes(id)) assert.equal(answer.status, 502, `${id}, closed without an answer, is answered 502 (not retried): ${JSON.stringify(answer)}`);
      else assert.deepEqual([answer.status, answer.body], [200, 'good']);
    }
  });

  it('sends a GET that met a server closing without an answer again, to the other server', async () => {
    const before = received.mute.length;
    const answers = new Map<string, Answer>();
    for (let i = 1; i <= 10 && received.mute.length === before; i++) answers.set(`get-${i}`, await send('GET', `get-${i}`));
    const retried = received.mute.slice(before).map((r) => r.split(' ')[1]!);
    assert.ok(retried.length > 0, `no GET reached the mute server: ${JSON.stringify(received)}`);
    for (const [id, answer] of answers) {
      assert.deepEqual([answer.status, answer.body], [200, 'good'], `${id}: ${JSON.stringify(answer)}`);
      assert.deepEqual(deliveries(id), retried.includes(id) ? ['mute', 'good'] : ['good'], id);
    }
  });
});
