/**
 * A lab of real Docker Engines on this machine, for tests of a fleet: one
 * Linux bridge as the LAN (this machine has an address on it), and per host a
 * network namespace plugged into it whose own bridge, of the same name as the
 * LAN bridge, carries the host's address and holds its veth, so a flat network
 * on that bridge spans every host at L2. Each host runs a dockerd reachable at
 * tcp://IP:2376 with mutual TLS. Everything is recorded in the test folder
 * before it is made, so a sweep removes what a killed run left.
 *
 *   const lab = await startLab({ hosts: 3, dir: fixture.dir });
 *   // hosts: lab.hosts.map((h) => ({ name: h.name, engine: h.engine, tls: h.tls }))
 *   await lab.hosts[1]!.stop();
 *   await lab.dispose();
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectEngine } from '../engine/client.js';
import { parseSubnet, type Subnet } from '../network/addresses.js';
import { registerCleanup } from './cleanup.js';
import { claimTestDir, type TestDir } from './fixture.js';
import { addForwardRule, CERTS_DIR, unmountUnder } from './host-objects.js';
import { dockerdPaths, spawnDockerd, stopDockerd, waitForEngine, type RunningDockerd } from './lab-dockerd.js';
import { addressIn, FIRST_LAN_HOST, pickFreeSubnet, planLab, type LabHostPlan, type LabPlan } from './lab-plan.js';
import { makeLabTls, type TlsFiles } from './lab-tls.js';
import { createLanHost, type LanHost } from './lan.js';
import { collectFailures, recordMade, removeMade } from './leftovers.js';
import { isMadeName } from './sweep-plan.js';

const run = promisify(execFile);

export type { TlsFiles } from './lab-tls.js';
export type { LanHost } from './lan.js';

export interface LabHost {
  /** h1, h2, …: a name for berth.yaml's hosts. */
  name: string;
  ip: string;
  /** tcp://IP:2376, mutual TLS. */
  engine: string;
  /** The client's certificate, key and the lab's CA: what berth.yaml's hosts[].tls names. */
  tls: TlsFiles;
  /** The host's network namespace (/run/netns/NAME). */
  netns: string;
  /** The engine's unix socket on this machine, for a test's own look behind Berth's back. */
  socket: string;
  /**
   * Its entry in berth.yaml's `hosts:`: the engine over mutual TLS, its address, and its engine's
   * socket for its warden to mount. A lab host shares this machine's filesystem, so a warden left to
   * the default /var/run/docker.sock would hold this machine's own engine (and stop what runs there).
   */
  yaml: { name: string; engine: string; tls: TlsFiles; address: string; socket: string };
  /** Whether its dockerd runs (started and not stopped). */
  running(): boolean;
  /** SIGTERM to its dockerd; resolves once it is gone, its containers stopped with it. */
  stop(): Promise<void>;
  /** Starts its dockerd again with the same flags and data; resolves once it answers over mTLS. */
  start(): Promise<void>;
  /** Its link to the LAN down (the machine gone from the network, as a pulled cable or a dead NIC) or up again. */
  link(up: boolean): Promise<void>;
}

export interface Lab {
  id: string;
  /** The test folder everything is recorded in. */
  dir: string;
  /** The Linux bridge: the LAN on this machine and the flat network's bridge in every host (one name). */
  bridge: string;
  subnet: string;
  /** The LAN's gateway for flat networks: this machine's address on the bridge. */
  gateway: string;
  /** This machine's address on the LAN (= gateway): a registry listens here, the front door reaches flat instances from here. */
  hostIp: string;
  /** The client's TLS files, the same for every host (a fleet-wide `fleet.tls`). */
  tls: TlsFiles;
  hosts: LabHost[];
  /** The address .last of the LAN, e.g. for a container's static IP; hosts use .11 up, LAN hosts .250 down. */
  address(last: number): string;
  /** Another machine on the LAN: a namespace on the bridge, removed with the lab. */
  lanHost(): Promise<LanHost>;
  /** Makes every engine on this machine trust a registry's CA: /etc/docker/certs.d/ADDR/ca.crt, removed with the lab. */
  trustRegistry(address: string, caPem: string): void;
  /** Stops the engines and removes everything the lab made; safe to call twice. */
  dispose(): Promise<void>;
}

export interface LabOptions {
  /** How many hosts (3 unless told). */
  hosts?: number;
  /** The test folder (a fixture's dir); a folder of its own when omitted. */
  dir?: string;
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const owned: TestDir | undefined = options.dir === undefined ? await claimTestDir() : undefined;
  const dir = options.dir ?? owned!.dir;
  const id = randomBytes(4).toString('hex');
  const plan = planLab(id, pickFreeSubnet(await takenSubnets()), options.hosts ?? 3);
  const labDir = join(dir, `lab-${id}`);
  mkdirSync(labDir, { recursive: true });
  for (const host of plan.hosts) {
    for (const [kind, name] of [['netns', host.netns], ['link', host.vethOutside], ['execroot', host.execRoot.slice('/run/'.length)], ['cgroup', host.cgroup]] as const) recordMade(dir, kind, name);
  }
  recordMade(dir, 'bridge', plan.bridge);
  recordMade(dir, 'forward', plan.bridge);

  const engines = new Map<string, RunningDockerd>();
  const lanHosts: LanHost[] = [];
  const trusted: string[] = [];
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= removeLab(plan, labDir, engines, lanHosts, trusted).finally(() => owned?.cleanup()));
  const unregister = registerCleanup(`lab ${id}`, dispose);

  try {
    const [tls] = await Promise.all([makeLabTls(join(labDir, 'tls'), plan.hosts), makeLan(plan)]);
    const paths = (host: LabHostPlan) => dockerdPaths(join(labDir, host.name), host);
    const start = async (host: LabHostPlan) => {
      const running = spawnDockerd(host, paths(host), tls.server(host.name));
      engines.set(host.name, running);
      await waitForEngine(host, running, tls.client, paths(host).log);
    };
    await Promise.all(plan.hosts.map(start));
    const hosts: LabHost[] = plan.hosts.map((host) => ({
      name: host.name,
      ip: host.ip,
      engine: `tcp://${host.ip}:2376`,
      tls: tls.client,
      netns: host.netns,
      socket: paths(host).socket,
      yaml: { name: host.name, engine: `tcp://${host.ip}:2376`, tls: tls.client, address: host.ip, socket: paths(host).socket },
      running: () => engines.has(host.name),
      async stop() {
        const running = engines.get(host.name);
        if (!running) return;
        await stopDockerd(running.pid, `dockerd of lab host ${host.name}`);
        await running.waitExited();
        engines.delete(host.name);
      },
      async start() {
        if (!engines.has(host.name)) await start(host);
      },
      link: (up) => ip(['link', 'set', host.vethOutside, up ? 'up' : 'down']),
    }));
    return {
      id,
      dir,
      bridge: plan.bridge,
      subnet: plan.subnet,
      gateway: plan.gateway,
      hostIp: plan.gateway,
      tls: tls.client,
      hosts,
      address: (last) => addressIn(plan.subnet, last),
      async lanHost() {
        const host = await createLanHost(plan.bridge, `${addressIn(plan.subnet, FIRST_LAN_HOST - lanHosts.length)}/24`, dir);
        lanHosts.push(host);
        return host;
      },
      trustRegistry(address, caPem) {
        if (!isMadeName('certs', address)) throw new Error(`a registry address is host:port, not ${JSON.stringify(address)}`);
        recordMade(dir, 'certs', address);
        trusted.push(address);
        mkdirSync(join(CERTS_DIR, address), { recursive: true });
        writeFileSync(join(CERTS_DIR, address, 'ca.crt'), caPem);
      },
      async dispose() {
        unregister();
        await dispose();
      },
    };
  } catch (error) {
    unregister();
    await dispose().catch(() => {});
    throw error;
  }
}

/** The LAN bridge with this machine's address, and per host its namespace, veth and bridge. */
async function makeLan(plan: LabPlan): Promise<void> {
  const prefix = `/${plan.subnet.split('/')[1]}`;
  await ip(['link', 'add', plan.bridge, 'type', 'bridge']);
  await ip(['addr', 'add', `${plan.gateway}${prefix}`, 'dev', plan.bridge]);
  await ip(['link', 'set', plan.bridge, 'up']);
  await addForwardRule(plan.bridge);
  const plug = async (host: LabHostPlan) => {
    const inside = (args: string[]) => ip(['-n', host.netns, ...args]);
    await ip(['netns', 'add', host.netns]);
    await ip(['link', 'add', host.vethOutside, 'type', 'veth', 'peer', 'name', host.vethInside]);
    await ip(['link', 'set', host.vethOutside, 'master', plan.bridge]);
    await ip(['link', 'set', host.vethOutside, 'up']);
    await ip(['link', 'set', host.vethInside, 'netns', host.netns]);
    await inside(['link', 'set', 'lo', 'up']);
    await inside(['link', 'add', plan.bridge, 'type', 'bridge']);
    await inside(['link', 'set', host.vethInside, 'master', plan.bridge]);
    await inside(['link', 'set', host.vethInside, 'up']);
    await inside(['addr', 'add', `${host.ip}${prefix}`, 'dev', plan.bridge]);
    await inside(['link', 'set', plan.bridge, 'up']);
    await inside(['route', 'add', 'default', 'via', plan.gateway]);
  };
  await Promise.all(plan.hosts.map(plug));
}

async function removeLab(plan: LabPlan, labDir: string, engines: Map<string, RunningDockerd>, lanHosts: LanHost[], trusted: string[]): Promise<void> {
  const { failures, step } = collectFailures();
  await Promise.all(
    [...engines.entries()].map(([name, running]) =>
      step(`stop dockerd of ${name}`, async () => {
        await stopDockerd(running.pid, `dockerd of lab host ${name}`);
        await running.waitExited();
        engines.delete(name);
      }),
    ),
  );
  for (const host of lanHosts) await step(`remove LAN host ${host.name}`, () => host.dispose());
  for (const host of plan.hosts) {
    await step(`remove cgroup ${host.cgroup}`, () => removeMade('cgroup', host.cgroup));
    await step(`remove exec-root ${host.execRoot}`, () => removeMade('execroot', host.execRoot.slice('/run/'.length)));
    await step(`delete namespace ${host.netns}`, () => removeMade('netns', host.netns));
    await step(`delete link ${host.vethOutside}`, () => removeMade('link', host.vethOutside));
  }
  await step(`delete bridge ${plan.bridge}`, () => removeMade('bridge', plan.bridge));
  await step(`remove the forwarding rule of ${plan.bridge}`, () => removeMade('forward', plan.bridge));
  for (const address of trusted) await step(`remove ${CERTS_DIR}/${address}`, () => removeMade('certs', address));
  await step(`remove ${labDir}`, async () => {
    await unmountUnder(labDir);
    rmSync(labDir, { recursive: true, force: true });
  });
  if (failures.length > 0) throw new Error(`the lab ${plan.id} left things behind: ${failures.join('; ')}`);
}

/** Routes, addresses and the machine engine's networks: a lab's subnet overlaps none of them. */
async function takenSubnets(): Promise<Subnet[]> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout) as { dst: string }[];
  const addresses = (JSON.parse((await run('ip', ['-j', '-4', 'addr'])).stdout) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) => l.addr_info);
  // No machine engine (DOCKER_HOST elsewhere, or it is down) is no reason to stop: the routes still count.
  const networks = await connectEngine()
    .networks.list([])
    .catch(() => []);
  const texts = [
    ...routes.map((r) => (r.dst === 'default' ? '0.0.0.0/32' : r.dst.includes('/') ? r.dst : `${r.dst}/32`)),
    ...addresses.map((a) => `${a.local}/${a.prefixlen}`),
    ...networks.flatMap((n) => (n.subnet ? [n.subnet] : [])),
  ];
  return texts.flatMap((text) => parseSubnet(text) ?? []);
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 60_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}
