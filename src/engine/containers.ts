import type Docker from 'dockerode';
import { guard } from './errors.js';

/** The Engine API's container create body (what a planner produces as plain data). */
export type CreateBody = Docker.ContainerCreateOptions;

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
  health?: string;
  /** Network name → { ip, mac } as the engine applied them. */
  networks: Record<string, { ip: string; mac: string }>;
  /** "8080/tcp" → host port */
  ports: Record<string, number>;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

export class ContainerClient {
  constructor(
    private readonly docker: Docker,
    private readonly endpoint: string,
  ) {}

  async create(body: CreateBody): Promise<string> {
    const container = await guard(this.endpoint, `create container ${body.name ?? ''}`.trim(), () => this.docker.createContainer(body));
    return container.id;
  }

  async start(id: string): Promise<void> {
    await guard(this.endpoint, `start container ${id}`, () => this.docker.getContainer(id).start());
  }

  /** Stops with the given grace period (SIGTERM, then SIGKILL after `seconds`). */
  async stop(id: string, seconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: seconds });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 304) return; // already stopped
      await guard(this.endpoint, `stop container ${id}`, () => Promise.reject(error));
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return;
      await guard(this.endpoint, `remove container ${id}`, () => Promise.reject(error));
    }
  }

  /** Waits until the container exits; returns its exit code. */
  async wait(id: string): Promise<number> {
    const result = (await guard(this.endpoint, `wait for container ${id}`, () => this.docker.getContainer(id).wait())) as { StatusCode: number };
    return result.StatusCode;
  }

  async inspect(id: string): Promise<ContainerState | undefined> {
    let c: Docker.ContainerInspectInfo;
    try {
      c = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
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
      ...(c.State.Health ? { health: c.State.Health.Status } : {}),
      networks,
      ports,
    };
  }

  /** IDs of containers (running or not) carrying a label filter such as "berth.project=x". */
  async list(labels: string[]): Promise<string[]> {
    const list = await guard(this.endpoint, 'list containers', () => this.docker.listContainers({ all: true, filters: { label: labels } }));
    return list.map((c) => c.Id);
  }

  /** The container's output so far (stdout and stderr interleaved), as text. */
  async logs(id: string, options: { tail?: number; since?: number } = {}): Promise<string> {
    const buffer = await guard(this.endpoint, `read logs of ${id}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: options.tail ?? -1, since: options.since ?? 0 }),
    );
    return demultiplex(buffer);
  }

  /** Runs a command inside a running container and collects its output. */
  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    const container = this.docker.getContainer(id);
    const exec = await guard(this.endpoint, `exec in ${id}`, () => container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true }));
    const stream = await guard(this.endpoint, `exec in ${id}`, () => exec.start({ hijack: true, stdin: false }));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const info = await guard(this.endpoint, `exec in ${id}`, () => exec.inspect());
    return { exitCode: info.ExitCode ?? -1, output: demultiplex(Buffer.concat(chunks)) };
  }
}

/** The engine frames non-TTY output as [stream, 0, 0, 0, size(4)] + payload. */
function demultiplex(buffer: Buffer): string {
  let out = '';
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    out += buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  return out;
}
