/**
 * The FakeEngine's containers. Nothing runs: a started container "runs" until it is stopped,
 * removed, or the test makes it exit (`exit`); its health is what the test says (`setHealth`);
 * its exec answers come from the test's script. What callers read follows Docker 20.10:
 * addresses, MACs and published ports exist only while it runs, a stopped container is
 * "exited" with 143 (SIGTERM), a restart policy brings a crashed one back with its restart
 * count raised, names are unique, and the events are the engine's (create, start, kill, die,
 * stop, restart, rename, destroy, health_status).
 */
import { posix } from 'node:path';
import { extract, pack } from 'tar-stream';
import type { ContainerState, ContainerSummary, CreateBody, ExecResult } from '../engine/containers.js';
import type { EngineContainers } from '../engine/engine.js';
import { compareApi } from '../engine/http.js';
import { hexId, labelsMatch, refusal, type FakeCore } from './fake-engine-core.js';
import type { FakeImages } from './fake-images.js';
import type { FakeNetworks } from './fake-networks.js';

export type Health = 'starting' | 'healthy' | 'unhealthy';

interface Endpoint {
  networkId: string;
  ip: string;
  mac: string;
}

interface FakeContainer {
  id: string;
  name: string;
  body: CreateBody;
  imageId: string;
  status: 'created' | 'running' | 'exited';
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Stopped through the API (stop), not since started: the engine's own mark, which `unless-stopped` reads. */
  stoppedByCall?: boolean;
  /** Its process's pid while it runs (the engine's State.Pid). */
  pid?: number;
  health?: Health;
  /** Network name → its endpoint (address and MAC empty unless running). */
  endpoints: Map<string, Endpoint>;
  ports: Record<string, number>;
  output: { at: number; text: string }[];
  files: Map<string, Buffer>;
  /** Told when the container stops running or is removed. */
  waiters: Set<() => void>;
}

/** A test's answer to an exec: undefined passes the command to the next script. */
export type ExecScript = (container: { id: string; name: string; labels: Record<string, string> }, cmd: string[]) => ExecResult | undefined | Promise<ExecResult | undefined>;

/** The engine's zero time: a container that never started or never finished. */
const NEVER = '0001-01-01T00:00:00Z';
const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const RESTART_POLICIES = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

function policyOf(c: FakeContainer): string {
  const name = String((c.body.HostConfig?.RestartPolicy as { Name?: string } | undefined)?.Name ?? '');
  return name === 'no' ? '' : name;
}

export class FakeContainers implements EngineContainers {
  readonly #all = new Map<string, FakeContainer>();
  readonly #scripts: ExecScript[] = [];
  #created = 0;
  #nextPort = 32768;
  #nextPid = 4000;
  /** Create faults: each takes one create it matches. */
  readonly #createFaults: { match: (body: CreateBody) => boolean; error: Error }[] = [];
  /** Start holds: a matching start waits until released. */
  readonly #holds = new Set<{ match: (name: string) => boolean; released: Promise<void> }>();

  constructor(
    private readonly core: FakeCore,
    private readonly images: FakeImages,
    private readonly networks: FakeNetworks,
    private readonly apiVersion: () => string,
  ) {}

  create(body: CreateBody): Promise<string> {
    return this.core.answer(`create container ${body.name ?? ''}`.trim(), () => {
      const fault = this.#createFaults.findIndex((f) => f.match(body));
      if (fault >= 0) throw this.#createFaults.splice(fault, 1)[0]!.error;
      const name = body.name ?? `fake_${hexId(String(this.#created)).slice(0, 12)}`;
      if (!NAME.test(name)) throw refusal(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const holder = this.#byName(name);
      if (holder) throw refusal(409, `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      const image = this.images.find(body.Image);
      if (!image) throw refusal(404, `No such image: ${body.Image}`);
      const mode = String(body.HostConfig?.NetworkMode ?? 'bridge');
      const endpoints = new Map<string, Endpoint>();
      if (!mode.startsWith('container:')) {
        const network = this.networks.find(mode);
        if (!network) throw refusal(404, `network ${mode} not found`);
        const wanted = body.NetworkingConfig?.EndpointsConfig[mode] as { IPAMConfig?: { IPv4Address?: string } } | undefined;
        if (wanted?.IPAMConfig?.IPv4Address && !network.userSubnet) throw refusal(400, 'user specified IP address is supported only when connecting to networks with user configured subnets');
        endpoints.set(network.name, { networkId: network.id, ip: '', mac: '' });
      }
      const id = hexId(`container/${name}/${++this.#created}/${Date.now()}`);
      this.#all.set(id, {
        id,
        name,
        body: structuredClone(body),
        imageId: image.id,
        status: 'created',
        exitCode: 0,
        startedAt: NEVER,
        finishedAt: NEVER,
        restartCount: 0,
        endpoints,
        ports: {},
        output: [],
        files: new Map(Object.entries(image.files).map(([path, text]) => [path, Buffer.from(text)])),
        waiters: new Set(),
      });
      this.#emit(this.#all.get(id)!, 'create');
      return id;
    });
  }

  async start(id: string): Promise<void> {
    const name = await this.core.answer(`start container ${id}`, () => this.#get(id).name);
    const holds = [...this.#holds].filter((h) => h.match(name));
    if (holds.length > 0) await this.#held(id, holds);
    await this.core.answer(`start container ${id}`, () => {
      const c = this.#get(id);
      c.stoppedByCall = false;
      if (c.status !== 'running') this.#run(c);
    });
  }

  stop(id: string, _seconds = 10): Promise<void> {
    return this.core.answer(`stop container ${id}`, () => {
      const c = this.#get(id);
      if (c.status !== 'running') return;
      c.stoppedByCall = true;
      this.#emit(c, 'kill', { signal: '15' });
      this.#halt(c, 143);
      this.#emit(c, 'stop');
    });
  }

  restart(id: string, _seconds = 10): Promise<void> {
    return this.core.answer(`restart container ${id}`, () => {
      const c = this.#get(id);
      c.stoppedByCall = false;
      if (c.status === 'running') {
        this.#emit(c, 'kill', { signal: '15' });
        this.#halt(c, 143);
      }
      this.#run(c);
      this.#emit(c, 'restart');
    });
  }

  remove(id: string): Promise<void> {
    return this.core.answer(`remove container ${id}`, () => {
      const c = this.#find(id);
      if (!c) return;
      if (c.status === 'running') {
        this.#emit(c, 'kill', { signal: '9' });
        this.#halt(c, 137);
      }
      this.#all.delete(c.id);
      wake(c);
      this.#emit(c, 'destroy');
    });
  }

  async wait(id: string): Promise<number> {
    const c = await this.core.answer(`wait for container ${id}`, () => this.#get(id));
    while (c.status === 'running' && this.#all.has(c.id)) await new Promise<void>((resolve) => c.waiters.add(resolve));
    return c.exitCode;
  }

  inspect(id: string): Promise<ContainerState | undefined> {
    return this.core.answer(`inspect container ${id}`, () => {
      const c = this.#find(id);
      return c ? this.#state(c) : undefined;
    });
  }

  setRestartPolicy(id: string, policy: string): Promise<void> {
    return this.core.answer(`set the restart policy of container ${id}`, () => {
      const c = this.#get(id);
      if (!RESTART_POLICIES.has(policy)) throw refusal(400, `invalid restart policy '${policy}'`);
      c.body.HostConfig = { ...c.body.HostConfig, RestartPolicy: { Name: policy } };
      this.#emit(c, 'update');
    });
  }

  rename(id: string, name: string): Promise<void> {
    return this.core.answer(`rename container ${id} to ${name}`, () => {
      const c = this.#get(id);
      if (!NAME.test(name)) throw refusal(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const holder = this.#byName(name);
      if (holder && holder !== c) throw refusal(409, `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
      const oldName = c.name;
      c.name = name;
      this.#emit(c, 'rename', { oldName: `/${oldName}` });
    });
  }

  async putArchive(id: string, path: string, tar: Buffer): Promise<void> {
    const c = await this.core.answer(`copy files into container ${id}`, () => this.#get(id));
    const unpack = extract();
    unpack.end(tar);
    for await (const entry of unpack) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file') c.files.set(posix.join('/', path, entry.header.name), Buffer.concat(chunks));
    }
  }

  async getArchive(id: string, path: string): Promise<Buffer> {
    const content = await this.core.answer(`read ${path} of container ${id}`, () => {
      const file = this.#get(id).files.get(posix.normalize(path));
      if (!file) throw refusal(404, `Could not find the file ${path} in container ${id}`);
      return file;
    });
    const archive = pack();
    archive.entry({ name: posix.basename(path), mode: 0o644 }, content);
    archive.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  processConfig(id: string): Promise<{ user: string; env: Record<string, string> }> {
    return this.core.answer(`inspect container ${id}`, () => {
      const c = this.#get(id);
      const image = this.images.find(c.imageId);
      const env: Record<string, string> = {};
      for (const entry of [...(image?.env ?? []), ...(c.body.Env ?? [])]) {
        const at = entry.indexOf('=');
        if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
      }
      return { user: c.body.User ?? image?.user ?? '', env };
    });
  }

  summaries(labels: string[]): Promise<ContainerSummary[]> {
    return this.core.answer('list containers', () =>
      this.#matching(labels).map((c) => ({ id: c.id, name: c.name, labels: { ...c.body.Labels }, state: c.status, status: humanStatus(c) })),
    );
  }

  list(labels: string[]): Promise<string[]> {
    return this.core.answer('list containers', () => this.#matching(labels).map((c) => c.id));
  }

  logs(id: string, options: { tail?: number; since?: number } = {}): Promise<string> {
    return this.core.answer(`read logs of ${id}`, () => outputOf(this.#get(id), options));
  }

  async follow(id: string, options: { since?: number; tail?: number }, onText: (text: string) => void): Promise<void> {
    const c = await this.core.answer(`follow logs of ${id}`, () => this.#get(id));
    let seen = c.output.length;
    const first = outputOf(c, options);
    if (first) onText(first);
    while (c.status === 'running' && this.#all.has(c.id) && !this.core.down) {
      await new Promise<void>((resolve) => c.waiters.add(resolve));
      const text = c.output.slice(seen).map((o) => o.text).join('');
      seen = c.output.length;
      if (text) onText(text);
    }
  }

  async exec(container: string, cmd: string[]): Promise<ExecResult> {
    const c = await this.core.answer(`exec in ${container}`, () => {
      const found = this.#get(container);
      if (found.status !== 'running') throw refusal(409, `Container ${found.id} is not running`);
      return found;
    });
    const view = { id: c.id, name: c.name, labels: { ...c.body.Labels } };
    for (const script of [...this.#scripts].reverse()) {
      const answer = await script(view, cmd);
      if (answer) return answer;
    }
    return { exitCode: 127, output: `OCI runtime exec failed: exec failed: the FakeEngine has no script for ${JSON.stringify(cmd)}\n` };
  }

  // --- what a test drives ------------------------------------------------------------

  /** Answers execs (the newest script first; one answering undefined passes). */
  /** What the container was created with (docker inspect shows it as Config and HostConfig); undefined for an absent one. */
  createdWith(ref: string): CreateBody | undefined {
    const c = this.#find(ref);
    return c ? structuredClone(c.body) : undefined;
  }

  scriptExec(script: ExecScript): void {
    this.#scripts.push(script);
  }

  /** The next create that `match`es fails with `error` (the engine's 500 by default). */
  failCreate(match: (body: CreateBody) => boolean, error: Error): void {
    this.#createFaults.push({ match, error });
  }

  /** Starts of containers whose name matches wait until the returned function is called (or the container is removed, or the engine stops answering). */
  holdStarts(match: (name: string) => boolean): () => void {
    let release!: () => void;
    const hold = { match, released: new Promise<void>((resolve) => (release = resolve)) };
    this.#holds.add(hold);
    return () => {
      this.#holds.delete(hold);
      release();
    };
  }

  /** The container's process exits with `code`; a restart policy that applies starts it again. */
  exit(id: string, code: number): void {
    const c = this.#get(id);
    if (c.status !== 'running') throw new Error(`FakeEngine: container ${c.name} is not running, it cannot exit`);
    this.#halt(c, code);
    const policy = policyOf(c);
    if (policy === 'always' || policy === 'unless-stopped' || (policy === 'on-failure' && code !== 0)) {
      c.restartCount++;
      this.#run(c);
    }
  }

  /** The engine's shutdown: every running container stops (SIGTERM, 143), not marked as stopped by a call. */
  haltAll(): void {
    for (const c of this.#all.values()) {
      if (c.status !== 'running') continue;
      this.#emit(c, 'kill', { signal: '15' });
      this.#halt(c, 143);
      this.#emit(c, 'stop');
    }
  }

  /**
   * The engine's start: as dockerd restores its containers, it starts those whose restart policy
   * says so (always; unless-stopped when not stopped by a call; on-failure after a non-zero exit).
   */
  restoreAll(): void {
    for (const c of this.#all.values()) {
      if (c.status === 'running') continue;
      const policy = policyOf(c);
      if (policy === 'always' || (policy === 'unless-stopped' && !c.stoppedByCall) || (policy === 'on-failure' && c.exitCode !== 0)) this.#run(c);
    }
  }

  setHealth(id: string, health: Exclude<Health, 'starting'>): void {
    const c = this.#get(id);
    if (c.status !== 'running' || c.health === undefined) throw new Error(`FakeEngine: container ${c.name} is not running with a health check`);
    if (c.health === health) return;
    c.health = health;
    this.#emit(c, `health_status: ${health}`);
  }

  /** Output the container's process writes. */
  write(id: string, text: string): void {
    const c = this.#get(id);
    c.output.push({ at: Date.now(), text });
    wake(c);
  }

  /** Whether a running container has an endpoint on the network, or runs the image. */
  usesNetwork(networkId: string): boolean {
    return [...this.#all.values()].some((c) => c.status === 'running' && [...c.endpoints.values()].some((e) => e.networkId === networkId));
  }

  usesImage(imageId: string): boolean {
    return [...this.#all.values()].some((c) => c.status === 'running' && c.imageId === imageId);
  }

  // --- inside ------------------------------------------------------------------------

  /** Until every hold is released, the container is removed or the engine stops answering (the start then fails as the engine would). */
  async #held(id: string, holds: { released: Promise<void> }[]): Promise<void> {
    let released = false;
    const all = Promise.all(holds.map((h) => h.released)).then(() => (released = true));
    const c = this.#find(id);
    while (!released && c && this.#all.has(c.id) && !this.core.down) {
      let stopWaiting!: () => void;
      const changed = new Promise<void>((resolve) => (stopWaiting = resolve));
      const unsubscribe = this.core.whenDown(stopWaiting);
      c.waiters.add(stopWaiting);
      try {
        await Promise.race([all, changed]);
      } finally {
        unsubscribe();
        c.waiters.delete(stopWaiting);
      }
    }
  }

  #run(c: FakeContainer): void {
    const taken = this.#addressesInUse();
    const ports = this.#publish(c);
    const perEndpointMac = compareApi(this.apiVersion(), '1.44') >= 0;
    const mode = String(c.body.HostConfig?.NetworkMode ?? 'bridge');
    // Every endpoint's address first: a start the engine refuses changes nothing.
    const joined: [Endpoint, { ip: string; mac: string }][] = [];
    for (const [name, endpoint] of c.endpoints) {
      const network = this.networks.find(endpoint.networkId);
      if (!network) throw refusal(404, `network ${name} not found`);
      if (network.driver === 'host' || network.driver === 'null') continue;
      const wanted = c.body.NetworkingConfig?.EndpointsConfig[name] as { IPAMConfig?: { IPv4Address?: string }; MacAddress?: string } | undefined;
      const ip = this.networks.address(network, wanted?.IPAMConfig?.IPv4Address, taken);
      const mac = (perEndpointMac ? wanted?.MacAddress : name === mode ? c.body.MacAddress : undefined) ?? macOf(ip);
      taken.add(ip);
      joined.push([endpoint, { ip, mac }]);
    }
    for (const [endpoint, address] of joined) Object.assign(endpoint, address);
    c.ports = ports;
    c.status = 'running';
    c.pid = this.#nextPid++;
    c.startedAt = new Date().toISOString();
    c.finishedAt = NEVER;
    const test = c.body.Healthcheck?.Test;
    if (test && test[0] !== 'NONE') c.health = 'starting';
    this.#emit(c, 'start');
  }

  #halt(c: FakeContainer, code: number): void {
    c.status = 'exited';
    delete c.pid;
    c.exitCode = code;
    c.finishedAt = new Date().toISOString();
    c.ports = {};
    for (const endpoint of c.endpoints.values()) Object.assign(endpoint, { ip: '', mac: '' });
    this.#emit(c, 'die', { exitCode: String(code) });
    wake(c);
  }

  /** Host ports for the container's PortBindings: the given one, or the next free one from 32768 when empty. */
  #publish(c: FakeContainer): Record<string, number> {
    const bindings = (c.body.HostConfig?.PortBindings ?? {}) as Record<string, { HostPort?: string }[]>;
    const used = new Set([...this.#all.values()].filter((o) => o.status === 'running').flatMap((o) => Object.values(o.ports)));
    const ports: Record<string, number> = {};
    for (const [port, [binding]] of Object.entries(bindings)) {
      let hostPort = Number(binding?.HostPort || 0);
      if (hostPort && used.has(hostPort)) throw refusal(500, `driver failed programming external connectivity on endpoint ${c.name}: Bind for 0.0.0.0:${hostPort} failed: port is already allocated`);
      while (!hostPort || used.has(hostPort)) hostPort = this.#nextPort++;
      used.add(hostPort);
      ports[port] = hostPort;
    }
    return ports;
  }

  #addressesInUse(): Set<string> {
    return new Set([...this.#all.values()].flatMap((c) => [...c.endpoints.values()].map((e) => e.ip)).filter((ip) => ip !== ''));
  }

  #state(c: FakeContainer): ContainerState {
    return {
      id: c.id,
      name: c.name,
      image: c.imageId,
      labels: { ...c.body.Labels },
      running: c.status === 'running',
      status: c.status,
      exitCode: c.exitCode,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      restartCount: c.restartCount,
      restartPolicy: policyOf(c) || 'no',
      ...(c.pid !== undefined ? { pid: c.pid } : {}),
      ...(c.health ? { health: c.health } : {}),
      networks: Object.fromEntries([...c.endpoints].map(([name, e]) => [name, { ip: e.ip, mac: e.mac }])),
      ports: { ...c.ports },
    };
  }

  #emit(c: FakeContainer, action: string, extra: Record<string, string> = {}): void {
    this.core.emit('container', action, c.id, { ...c.body.Labels, image: c.body.Image, name: c.name, ...extra });
  }

  #matching(labels: string[]): FakeContainer[] {
    return [...this.#all.values()].filter((c) => labelsMatch(labels, c.body.Labels ?? {}));
  }

  #byName(name: string): FakeContainer | undefined {
    const bare = name.replace(/^\//, '');
    return [...this.#all.values()].find((c) => c.name === bare);
  }

  /** By ID, name or a unique ID prefix, as the engine looks containers up. */
  #find(ref: string): FakeContainer | undefined {
    const exact = this.#all.get(ref) ?? this.#byName(ref);
    if (exact) return exact;
    const prefixed = [...this.#all.values()].filter((c) => c.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  #get(ref: string): FakeContainer {
    const c = this.#find(ref);
    if (!c) throw refusal(404, `No such container: ${ref}`);
    return c;
  }
}

/** Tells everyone waiting on the container that something changed; each waits again if it must. */
function wake(c: FakeContainer): void {
  const waiting = [...c.waiters];
  c.waiters.clear();
  for (const resume of waiting) resume();
}

/** Docker 20.10's MAC for an address: 02:42 and the four bytes of the IPv4 address. */
function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

function outputOf(c: FakeContainer, options: { tail?: number; since?: number }): string {
  const since = (options.since ?? 0) * 1000;
  const lines = c.output.filter((o) => o.at >= since).map((o) => o.text).join('').split(/(?<=\n)/).filter((l) => l !== '');
  return (options.tail === undefined ? lines : lines.slice(-options.tail)).join('');
}

/** The engine's words for the list: "Up 3 seconds (healthy)", "Exited (143) 2 seconds ago", "Created". */
function humanStatus(c: FakeContainer): string {
  if (c.status === 'created') return 'Created';
  if (c.status === 'running') return `Up ${ago(c.startedAt)}${c.health ? ` (${c.health === 'starting' ? 'health: starting' : c.health})` : ''}`;
  return `Exited (${c.exitCode}) ${ago(c.finishedAt)} ago`;
}

function ago(iso: string): string {
  const seconds = Math.floor((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.floor(seconds / 60);
  return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
}
