/**
 * A door pair on the lab: two lab hosts (dockerds in network namespaces on one LAN) each run
 * the door of one service and keepalived beside it (lb/vrrp.ts), sharing an address on the
 * LAN; the service is a small node server on this machine's LAN address. A LAN namespace sends
 * requests through the shared address while the member that holds it crashes (its link goes
 * down, then its dockerd stops): the other member takes the address. The test asserts the
 * takeover and that requests succeed after it; it reports, and does not assert, the failed
 * requests and the time from the crash to the first success.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { connectEngine, type Engine } from '../engine/client.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import { closeStore, openStore } from '../store/db.js';
import { claimTestDir, type TestDir } from '../testing/fixture.js';
import { startLab, type Lab, type LabHost, type LanHost } from '../testing/lab.js';
import { takeoverFigures, type TimedRequest } from '../testing/takeover.js';
import { until } from '../testing/until.js';
import { doorContainerName } from './door-container.js';
import { DOOR_IMAGE } from './door-image.js';
import { ensureFrontDoor, frontDoorStatus, type DoorMember, type DoorPlace } from './front-door.js';
import type { FrontDoorSpec } from './model.js';
import { settleVrrp } from './vrrp.js';
import { vrrpContainerName } from './vrrp-container.js';

const run = promisify(execFile);
const ENV = 'production';
const PORT = 8080;

/**
 * Sequential GETs (each given up after 1 s) until the stop file appears (or 50 s pass, under the
 * LAN host's exec limit); prints every request as [start ms, end ms, ok].
 */
const LOAD = `
const http = require('node:http');
const fs = require('node:fs');
const [url, stop] = process.argv.slice(1);
const out = [];
const deadline = Date.now() + 50000;
const once = () => new Promise((resolve) => {
  const start = Date.now();
  const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
    res.resume();
    res.on('end', () => resolve([start, Date.now(), res.statusCode === 200]));
    res.on('error', () => resolve([start, Date.now(), false]));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve([start, Date.now(), false]));
});
(async () => {
  while (!fs.existsSync(stop) && Date.now() < deadline) {
    const r = await once();
    out.push(r);
    if (!r[2]) await new Promise((w) => setTimeout(w, 50));
  }
  console.log(JSON.stringify(out));
})();
`;

async function holds(host: LabHost, address: string): Promise<boolean> {
  return (await addresses(host)).includes(` ${address}/`);
}

async function addresses(host: LabHost): Promise<string> {
  return (await run('ip', ['-n', host.netns.split('/').pop()!, '-4', '-o', 'addr', 'show'])).stdout;
}

describe('a door pair on the lab: the member that holds the shared address crashes under load', () => {
  let owned: TestDir;
  let lab: Lab;
  let lan: LanHost;
  let backend: Server;
  let place: DoorPlace;
  let spec: FrontDoorSpec;
  let shared: string;
  /** Requests the service answered: the load's progress as this process sees it. */
  let served = 0;
  const engines = new Map<string, Engine>();

  /** Each host's addresses and the last lines of its door's and keepalived's logs: printed when the test fails. */
  async function diagnosis(): Promise<string> {
    const parts: string[] = [];
    for (const h of lab.hosts) {
      const engine = engines.get(h.name)!;
      const logs = async (name: string) => engine.containers.logs(name, { tail: 30 }).catch((error: unknown) => `(no logs: ${String(error)})`);
      parts.push(
        `## ${h.name}`,
        await addresses(h).catch((error: unknown) => `(no addresses: ${String(error)})`),
        `### door`,
        await logs(doorContainerName(owned.name, spec.id)),
        `### keepalived`,
        await logs(vrrpContainerName(owned.name, ENV)),
      );
    }
    return parts.join('\n');
  }

  before(async () => {
    owned = await claimTestDir();
    lab = await startLab({ hosts: 2, dir: owned.dir });
    lan = await lab.lanHost();
    shared = lab.address(200);
    backend = createServer((_req, res) => {
      served++;
      res.end('served');
    });
    await new Promise<void>((resolve) => backend.listen(0, lab.hostIp, resolve));
    const members: DoorMember[] = lab.hosts.map((h) => {
      const engine = connectEngine({ DOCKER_HOST: `unix://${h.socket}` });
      engines.set(h.name, engine);
      return { host: h.name, engine, local: false, address: h.ip };
    });
    // The door image on each member's engine, by the hierarchy builder (the Debian bootstrap is cached on this machine).
    const db = await openStore(owned.dir);
    const images = new Map(await Promise.all(members.map(async (m) => [m.host, await ensureSystemImage(DOOR_IMAGE, { engine: m.engine, db, env: process.env })] as const)).finally(() => closeStore(db)));
    const image = async (m: DoorMember) => images.get(m.host)!;
    const vrrp = { project: owned.name, environment: ENV, address: shared, doorIds: [`${ENV}-web`], members, image };
    place = { project: owned.name, members, image, vrrp: { address: shared, container: vrrpContainerName(owned.name, ENV), settle: () => settleVrrp(vrrp) } };
    spec = { id: `${ENV}-web`, bind: { address: '0.0.0.0', port: PORT }, servers: [{ name: 'web-1', address: lab.hostIp, port: (backend.address() as AddressInfo).port, weight: 100, state: 'ready' }] };
  });

  after(async () => {
    backend?.closeAllConnections();
    backend?.close();
    for (const e of engines.values()) await e.close().catch(() => {});
    try {
      await lab?.dispose();
    } finally {
      await owned?.cleanup();
    }
  });

  it('one member takes the address and serves through it; when it crashes the other takes it and serves', async () => {
    try {
      await ensureFrontDoor(spec, place);
      for (const h of lab.hosts) assert.equal((await engines.get(h.name)!.containers.inspect(vrrpContainerName(owned.name, ENV)))?.running, true, `keepalived runs on ${h.name}`);
      const holder = await until(`one member holds ${shared}`, async () => {
        const held = [];
        for (const h of lab.hosts) if (await holds(h, shared)) held.push(h);
        return held.length === 1 ? held[0] : undefined;
      });
      const other = lab.hosts.find((h) => h !== holder)!;
      const url = `http://${shared}:${PORT}/`;
      const missed: string[] = [];
      const first = await until(`a request through ${shared} is served`, async () => {
        const answer = await lan.fetch(url, 5);
        if (answer.ok) return answer;
        missed.push(answer.body);
        throw new Error(answer.body);
      });
      assert.equal(first.body, 'served');
      if (missed.length > 0) console.log(`# before the first answer through ${shared}: ${missed.length} failed (${missed.join('; ')})`);
      const status = await frontDoorStatus(spec, place);
      assert.equal(status.address, `${shared}:${PORT}`);
      assert.deepEqual(status.members.map((m) => [m.host, m.state, m.role, m.keepalived]).sort(), lab.hosts.map((h) => [h.name, 'running', h === holder ? 'MASTER' : 'BACKUP', 'running']).sort());

      const stop = join(owned.dir, 'stop-load');
      const load = lan.exec([process.execPath, '-e', LOAD, url, stop]);
      const servedBefore = served;
      await until('the load gets answers through the shared address', async () => (served >= servedBefore + 20 ? true : undefined));
      const began = Date.now();
      await holder.link(false);
      const done = Date.now();
      const stopped = holder.stop();
      await until(`${other.name} takes ${shared}`, async () => ((await holds(other, shared)) ? true : undefined), 60_000, 50);
      const takenAt = Date.now();
      const taken = served;
      await until('the load gets answers through the other member', async () => (served >= taken + 50 ? true : undefined));
      writeFileSync(stop, '');
      const outcome = await load;
      await stopped;
      assert.equal(outcome.exitCode, 0, outcome.stderr);
      const requests = JSON.parse(outcome.stdout) as TimedRequest[];
      const figures = takeoverFigures(requests, { began, done });
      // The whole timeline, relative to the crash, in case an assertion below fails.
      const timeline = requests.map(([start, end, ok]) => `${start - done}..${end - done}${ok ? '' : ' failed'}`).join(', ');
      assert.ok(figures.before.sent > 0 && figures.before.failed === 0, `every request that ended before the crash succeeded: ${JSON.stringify(figures)}; ${timeline}`);
      assert.ok(figures.firstSuccessMs !== undefined, `a request started after the crash succeeded: ${timeline}`);
      assert.equal(figures.failedAfterFirstSuccess, 0, `after the first success every request succeeded: ${timeline}`);
      const afterStatus = await frontDoorStatus(spec, place);
      assert.deepEqual(afterStatus.members.map((m) => [m.host, m.state, m.role]).sort(), lab.hosts.map((h) => [h.name, h === holder ? 'unknown' : 'running', h === holder ? '' : 'MASTER']).sort());
      console.log(
        `# door pair takeover: ${requests.length} requests; before the crash ${figures.before.sent} (${figures.before.failed} failed), ` +
          `in flight at it ${figures.during.sent} (${figures.during.failed} failed), after it ${figures.after.sent} (${figures.after.failed} failed, all before the first success); ` +
          `first success ${figures.firstSuccessMs} ms after the link went down; ${other.name} held the address ${takenAt - done} ms after (seen by polling)`,
      );
    } catch (error) {
      console.log(await diagnosis());
      throw error;
    }
  });
});
