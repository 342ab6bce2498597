import { Readable } from 'node:stream';
import { guard, isNotFound } from './errors.js';
import { readBuffer, type EngineHttp } from './http.js';

/** The Engine API's container create body (what a planner produces as plain data); `name` goes in the query. */
export interface CreateBody {
  name?: string;
  Hostname?: string;
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  User?: string;
  Env?: string[];
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  StopTimeout?: number;
  /** The signal `stop` sends first (SIGTERM by default). */
  StopSignal?: string;
  /** Container-level MAC: how Engine API < 1.44 sets it. */
  MacAddress?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
  HostConfig?: Record<string, unknown>;
  NetworkingConfig?: { EndpointsConfig: Record<string, Record<string, unknown>> };
}

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  running: boolean;
  status: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** The engine's restart policy: no, always, unless-stopped or on-failure. */
  restartPolicy: string;
  /** Its process's pid on the host while it runs (what a host-side tool enters its namespaces by). */
  pid?: number;
  health?: string;
  /** Network name → { ip, mac } as the engine applied them. */
  networks: Record<string, { ip: string; mac: string }>;
  /** "8080/tcp" → host port */
  ports: Record<string, number>;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** created, running, restarting, exited, paused, dead */
  state: string;
  /** The engine's human status, e.g. "Up 3 minutes (healthy)". */
  status: string;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

/**
 * Create and start change state the engine queues behind its other work (network endpoints, the
 * resolver, runc): on a busy host a start took over 30 s (bench/fleet.ts, three lab engines on two
 * cores), and a caller that gives up then still gets the container started. Reads keep the default.
 */
const LAUNCH_CALL_MS = 120_000;

export class ContainerClient {
  constructor(
    private readonly http: EngineHttp,
    private readonly endpoint: string,
  ) {}

  async create(body: CreateBody): Promise<string> {
    const { name, ...config } = body;
    const created = await guard(this.endpoint, `create container ${name ?? ''}`.trim(), () =>
      this.http.json<{ Id: string }>('POST', '/containers/create', { query: { name }, body: config, timeoutMs: LAUNCH_CALL_MS }),
    );
    return created.Id;
  }

  async start(id: string): Promise<void> {
    await guard(this.endpoint, `start container ${id}`, () => this.http.empty('POST', `/containers/${id}/start`, { timeoutMs: LAUNCH_CALL_MS }));
  }

  /** Stops with the given grace period (SIGTERM, then SIGKILL after `seconds`); a stopped container is fine. */
  async stop(id: string, seconds = 10): Promise<void> {
    await guard(this.endpoint, `stop container ${id}`, () => this.http.empty('POST', `/containers/${id}/stop`, { query: { t: seconds }, timeoutMs: graceDeadline(seconds) }));
  }

  /** A restart is a stop and a start in one call: it gets the stop's deadline and a start's. */
  async restart(id: string, seconds = 10): Promise<void> {
    await guard(this.endpoint, `restart container ${id}`, () => this.http.empty('POST', `/containers/${id}/restart`, { query: { t: seconds }, timeoutMs: graceDeadline(seconds) + LAUNCH_CALL_MS }));
  }

  /** Removes (forcefully) a container by ID or name; an absent one is fine. */
  async remove(id: string): Promise<void> {
    try {
      await this.http.empty('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: true, v: true } });
    } catch (error) {
      if (isNotFound(error)) return;
      await guard(this.endpoint, `remove container ${id}`, () => Promise.reject(error));
    }
  }

  /** Waits until the container exits; returns its exit code. */
  async wait(id: string): Promise<number> {
    const result = await guard(this.endpoint, `wait for container ${id}`, () => this.http.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`, { timeoutMs: 0 }));
    return result.StatusCode;
  }

  async inspect(id: string): Promise<ContainerState | undefined> {
    let c: Inspect;
    try {
      c = await this.http.json<Inspect>('GET', `/containers/${encodeURIComponent(id)}/json`);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return guard(this.endpoint, `inspect container ${id}`, () => Promise.reject(error));
    }
    const networks = Object.fromEntries(
      Object.entries(c.NetworkSettings.Networks ?? {}).map(([name, n]) => [name, { ip: n.IPAddress, mac: n.MacAddress }]),
    );
    const ports: Record<string, number> = {};
    for (const [port, bindings] of Object.entries(c.NetworkSettings.Ports ?? {})) {
      const hostPort = bindings?.[0]?.HostPort;
      if (hostPort) ports[port] = Number(hostPort);
    }
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      image: c.Image,
      labels: c.Config.Labels ?? {},
      running: c.State.Running,
      status: c.State.Status,
      exitCode: c.State.ExitCode,
      startedAt: c.State.StartedAt,
      finishedAt: c.State.FinishedAt,
      restartCount: c.RestartCount,
      restartPolicy: c.HostConfig?.RestartPolicy?.Name || 'no',
      ...(c.State.Running && (c.State.Pid ?? 0) > 0 ? { pid: c.State.Pid } : {}),
      ...(c.State.Health ? { health: c.State.Health.Status } : {}),
      networks,
      ports,
    };
  }

  /** Changes the restart policy of a container, running or not, in place (the engine neither stops nor recreates it). */
  async setRestartPolicy(id: string, policy: string): Promise<void> {
    await guard(this.endpoint, `set the restart policy of container ${id}`, () =>
      this.http.empty('POST', `/containers/${encodeURIComponent(id)}/update`, { body: { RestartPolicy: { Name: policy } } }),
    );
  }

  async rename(id: string, name: string): Promise<void> {
    await guard(this.endpoint, `rename container ${id} to ${name}`, () => this.http.empty('POST', `/containers/${encodeURIComponent(id)}/rename`, { query: { name } }));
  }

  /** Unpacks a tar archive into the container's filesystem at `path` (an existing folder); works on a created, not yet started container. */
  async putArchive(id: string, path: string, tar: Buffer): Promise<void> {
    const response = await guard(this.endpoint, `copy files into container ${id}`, () =>
      this.http.call('PUT', `/containers/${encodeURIComponent(id)}/archive`, { query: { path }, stream: Readable.from([tar]), contentType: 'application/x-tar' }),
    );
    response.resume();
  }

  /** A tar archive of `path` (a file or folder) in the container's filesystem; not-found when it is absent. */
  async getArchive(id: string, path: string): Promise<Buffer> {
    const response = await guard(this.endpoint, `read ${path} of container ${id}`, () =>
      this.http.call('GET', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } }),
    );
    return readBuffer(response);
  }

  /** Who the container's process starts as (the image's USER, or '') and its environment (the image's and the create body's). */
  async processConfig(id: string): Promise<{ user: string; env: Record<string, string> }> {
    type Config = { Config: { User?: string; Env?: string[] | null } };
    const c = await guard(this.endpoint, `inspect container ${id}`, () => this.http.json<Config>('GET', `/containers/${encodeURIComponent(id)}/json`));
    const env: Record<string, string> = {};
    for (const entry of c.Config.Env ?? []) {
      const at = entry.indexOf('=');
      if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
    }
    return { user: c.Config.User ?? '', env };
  }

  /** Containers (running or not) matching every label filter, with what the list call reports: enough to plan without inspecting each. */
  async summaries(labels: string[]): Promise<ContainerSummary[]> {
    type Summary = { Id: string; Names: string[]; Labels: Record<string, string> | null; State: string; Status: string };
    const list = await guard(this.endpoint, 'list containers', () =>
      this.http.json<Summary[]>('GET', '/containers/json', { query: { all: true, filters: { label: labels } } }),
    );
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), labels: c.Labels ?? {}, state: c.State, status: c.Status }));
  }

  /** IDs of containers (running or not) matching every label filter, such as "berth.project=x". */
  async list(labels: string[]): Promise<string[]> {
    const list = await guard(this.endpoint, 'list containers', () =>
      this.http.json<{ Id: string }[]>('GET', '/containers/json', { query: { all: true, filters: { label: labels } } }),
    );
    return list.map((c) => c.Id);
  }

  /** The container's output so far (stdout and stderr interleaved), as text. */
  async logs(id: string, options: { tail?: number; since?: number } = {}): Promise<string> {
    const response = await guard(this.endpoint, `read logs of ${id}`, () =>
      this.http.call('GET', `/containers/${encodeURIComponent(id)}/logs`, {
        query: { stdout: true, stderr: true, tail: options.tail ?? 'all', since: options.since ?? 0 },
      }),
    );
    return demultiplex(await readBuffer(response));
  }

  /** Follows a container's output; each demultiplexed chunk goes to `onText` until the stream ends. */
  async follow(id: string, options: { since?: number; tail?: number }, onText: (text: string) => void): Promise<void> {
    const response = await guard(this.endpoint, `follow logs of ${id}`, () =>
      this.http.call('GET', `/containers/${encodeURIComponent(id)}/logs`, {
        query: { stdout: true, stderr: true, follow: true, tail: options.tail ?? 'all', since: options.since ?? 0 },
      }),
    );
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of response) {
      pending = Buffer.concat([pending, chunk as Buffer]);
      const { text, rest } = takeFrames(pending);
      pending = rest;
      if (text) onText(text);
    }
  }
}

/** A stop may take its whole grace period before the engine kills the process, and then some. */
function graceDeadline(seconds: number): number {
  return (seconds + 30) * 1000;
}

interface Inspect {
  Id: string;
  Name: string;
  Image: string;
  RestartCount: number;
  Config: { Labels: Record<string, string> | null };
  HostConfig?: { RestartPolicy?: { Name?: string } };
  State: { Running: boolean; Status: string; ExitCode: number; Pid?: number; StartedAt: string; FinishedAt: string; Health?: { Status: string } };
  NetworkSettings: {
    Networks: Record<string, { IPAddress: string; MacAddress: string }> | null;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
  };
}

/** The engine frames non-TTY output as [stream, 0, 0, 0, size(4)] + payload. */
export function demultiplex(buffer: Buffer): string {
  return takeFrames(buffer).text;
}

/** Whole frames' text, and the bytes of an incomplete last frame. */
function takeFrames(buffer: Buffer): { text: string; rest: Buffer } {
  let text = '';
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    if (offset + 8 + size > buffer.length) break;
    text += buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  return { text, rest: buffer.subarray(offset) };
}
