/**
 * A door pair on the lab, for lb/door-pair-lab.int.test.ts and bench/door-takeover.ts: two lab
 * hosts (dockerds in network namespaces on one LAN) each run the door of one service and
 * keepalived beside it (lb/vrrp.ts), sharing an address on the LAN; the service is a small node
 * server on this machine's LAN address. `crashHolderUnderLoad` sends requests from a LAN
 * namespace through the shared address while the member that holds it crashes (its link goes
 * down, then its dockerd stops), until the other member has taken the address and served 50
 * more; it returns every request, timed.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectEngine, type Engine } from '../engine/client.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import { doorContainerName } from '../lb/door-container.js';
import { DOOR_IMAGE } from '../lb/door-image.js';
import type { DoorMember, DoorPlace } from '../lb/front-door.js';
import type { FrontDoorSpec } from '../lb/model.js';
import { settleVrrp } from '../lb/vrrp.js';
import { vrrpContainerName } from '../lb/vrrp-container.js';
import { closeStore, openStore } from '../store/db.js';
import { startLab, type Lab, type LabHost } from './lab.js';
import type { LanHost } from './lan.js';
import type { TimedRequest } from './takeover.js';
import { until } from './until.js';

const run = promisify(execFile);
export const DOOR_PAIR_ENV = 'production';
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

export interface DoorPair {
  lab: Lab;
  lan: LanHost;
  engines: Map<string, Engine>;
  place: DoorPlace;
  spec: FrontDoorSpec;
  /** The address the members share. */
  shared: string;
  /** http://shared:port/ */
  url: string;
  /** Requests the service answered so far: the load's progress as this process sees it. */
  served(): number;
  /** The hosts whose interfaces carry the shared address now. */
  holders(): Promise<LabHost[]>;
  /** Each host's addresses and the last lines of its door's and keepalived's logs. */
  diagnosis(): Promise<string>;
  /** Closes the service and the engines, and removes the lab. */
  dispose(): Promise<void>;
}

/** The lab, the service and the place of its door (not started: ensureFrontDoor(pair.spec, pair.place) starts it). `project` names the door's containers. */
export async function startDoorPair(input: { project: string; dir: string }): Promise<DoorPair> {
  const lab = await startLab({ hosts: 2, dir: input.dir });
  const engines = new Map<string, Engine>();
  let backend: Server | undefined;
  const dispose = async () => {
    backend?.closeAllConnections();
    backend?.close();
    for (const e of engines.values()) await e.close().catch(() => {});
    await lab.dispose();
  };
  try {
    const lan = await lab.lanHost();
    const shared = lab.address(200);
    let served = 0;
    const server = createServer((_req, res) => {
      served++;
      res.end('served');
    });
    backend = server;
    await new Promise<void>((resolve) => server.listen(0, lab.hostIp, resolve));
    const members: DoorMember[] = lab.hosts.map((h) => {
      const engine = connectEngine({ DOCKER_HOST: `unix://${h.socket}` });
      engines.set(h.name, engine);
      return { host: h.name, engine, local: false, address: h.ip };
    });
    // The door image on each member's engine, by the hierarchy builder (the Debian bootstrap is cached on this machine).
    const db = await openStore(input.dir);
    const images = new Map(await Promise.all(members.map(async (m) => [m.host, await ensureSystemImage(DOOR_IMAGE, { engine: m.engine, db, env: process.env })] as const)).finally(() => closeStore(db)));
    const image = async (m: DoorMember) => images.get(m.host)!;
    const vrrp = { project: input.project, environment: DOOR_PAIR_ENV, address: shared, doorIds: [`${DOOR_PAIR_ENV}-web`], members, image };
    const place: DoorPlace = { project: input.project, members, image, vrrp: { address: shared, container: vrrpContainerName(input.project, DOOR_PAIR_ENV), settle: () => settleVrrp(vrrp) } };
    const spec: FrontDoorSpec = { id: `${DOOR_PAIR_ENV}-web`, bind: { address: '0.0.0.0', port: PORT }, servers: [{ name: 'web-1', address: lab.hostIp, port: (server.address() as AddressInfo).port, weight: 100, state: 'ready' }] };
    const holders = async () => {
      const held: LabHost[] = [];
      for (const h of lab.hosts) if ((await addresses(h)).includes(` ${shared}/`)) held.push(h);
      return held;
    };
    const diagnosis = async () => {
      const parts: string[] = [];
      for (const h of lab.hosts) {
        const engine = engines.get(h.name)!;
        const logs = async (name: string) => engine.containers.logs(name, { tail: 30 }).catch((error: unknown) => `(no logs: ${String(error)})`);
        parts.push(
          `## ${h.name}`,
          await addresses(h).catch((error: unknown) => `(no addresses: ${String(error)})`),
          '### door',
          await logs(doorContainerName(input.project, spec.id)),
          '### keepalived',
          await logs(vrrpContainerName(input.project, DOOR_PAIR_ENV)),
        );
      }
      return parts.join('\n');
    };
    return { lab, lan, engines, place, spec, shared, url: `http://${shared}:${PORT}/`, served: () => served, holders, diagnosis, dispose };
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}

async function addresses(host: LabHost): Promise<string> {
  return (await run('ip', ['-n', host.netns.split('/').pop()!, '-4', '-o', 'addr', 'show'])).stdout;
}

export interface CrashUnderLoad {
  /** Every request the LAN host sent, timed. */
  requests: TimedRequest[];
  /** When taking the holder's link down began and ended (ms since the epoch; the LAN host shares this clock). */
  crash: { began: number; done: number };
  /** When this process first saw the other member hold the address. */
  takenAt: number;
  other: LabHost;
}

/** Load through the shared address; `holder` crashes once 20 requests were served; ends 50 requests after the other member holds the address. */
export async function crashHolderUnderLoad(pair: DoorPair, holder: LabHost, stopFile: string): Promise<CrashUnderLoad> {
  const other = pair.lab.hosts.find((h) => h !== holder)!;
  const load = pair.lan.exec([process.execPath, '-e', LOAD, pair.url, stopFile]);
  const servedBefore = pair.served();
  await until('the load gets answers through the shared address', async () => (pair.served() >= servedBefore + 20 ? true : undefined));
  const began = Date.now();
  await holder.link(false);
  const done = Date.now();
  const stopped = holder.stop();
  await until(`${other.name} takes ${pair.shared}`, async () => ((await pair.holders()).includes(other) ? true : undefined), 60_000, 50);
  const takenAt = Date.now();
  const taken = pair.served();
  await until('the load gets answers through the other member', async () => (pair.served() >= taken + 50 ? true : undefined));
  writeFileSync(stopFile, '');
  const outcome = await load;
  await stopped;
  if (outcome.exitCode !== 0) throw new Error(`the load ended with ${outcome.exitCode}: ${outcome.stderr}`);
  return { requests: JSON.parse(outcome.stdout) as TimedRequest[], crash: { began, done }, takenAt, other };
}

/** A place for the load's stop file in `dir`. */
export function stopFileIn(dir: string): string {
  return join(dir, 'stop-load');
}
