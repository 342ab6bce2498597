import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { BerthError, failed } from '../errors.js';
import { BuildOutputLines, readBuildStream, type BuildLine } from './build-output.js';
import { guard, isNotFound } from './errors.js';
import type { EngineHttp } from './http.js';
import { readJsonStream } from './json-stream.js';

export interface EngineImage {
  id: string;
  tags: string[];
  labels: Record<string, string>;
  size: number;
  /** Seconds since the epoch. */
  created: number;
}

export interface BuildRequest {
  tag: string;
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
}

/** The parts of an image's configuration a Berth build sets or inherits. */
export interface ImageConfig {
  /** "KEY=value", in the image's order. */
  env: string[];
  labels: Record<string, string>;
  /** "8080/tcp", "53/udp". */
  exposedPorts: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string;
  user: string;
}

/**
 * An image made in one container: created from `parent` with its entrypoint cleared, `files` (a tar)
 * unpacked at /, `cmd` run, and on success committed once as `tag` with `config`.
 */
export interface ContainerBuildRequest {
  tag: string;
  parent: string;
  files: Buffer;
  cmd: string[];
  /** Set for the run on top of the parent's environment (the engine adds the parent's). */
  env: string[];
  /**
   * The build container's labels. The engine's commit adds the container's labels and
   * environment to the image's where the committed config lacks them, so both must be
   * subsets of `config`'s; and `config.entrypoint` must not be empty, or the commit takes the run's command.
   */
  labels: Record<string, string>;
  config: ImageConfig;
}

/** Credentials for a registry, sent to the engine as X-Registry-Auth (never logged). */
export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
}

/** One layer's state during a push, as the engine reports it. */
export interface PushProgress {
  layer: string;
  status: string;
  current?: number;
  total?: number;
}

export interface PushResult {
  digest: string;
  /** Size of the manifest. */
  size: number;
  /** Layers the engine uploaded, and those the registry had already (existing or mounted from another repository). */
  uploaded: string[];
  existing: string[];
}

export type { BuildLine } from './build-output.js';

export class ImageClient {
  constructor(
    private readonly http: EngineHttp,
    private readonly endpoint: string,
  ) {}

  /** Images carrying a label (optionally with a value). Slow on big engines: the engine sizes every image. */
  async list(label: string): Promise<EngineImage[]> {
    type Summary = { Id: string; RepoTags: string[] | null; Labels: Record<string, string> | null; Size: number; Created: number };
    const images = await guard(this.endpoint, 'list images', () => this.http.json<Summary[]>('GET', '/images/json', { query: { filters: { label: [label] } } }));
    return images.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'), labels: i.Labels ?? {}, size: i.Size, created: i.Created }));
  }

  async inspect(ref: string): Promise<EngineImage | undefined> {
    type Inspect = { Id: string; RepoTags: string[] | null; Config: { Labels: Record<string, string> | null } | null; Size: number; Created: string };
    try {
      const i = await this.http.json<Inspect>('GET', `/images/${encodeURIComponent(ref)}/json`);
      return { id: i.Id, tags: i.RepoTags ?? [], labels: i.Config?.Labels ?? {}, size: i.Size, created: Math.floor(Date.parse(i.Created) / 1000) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return guard(this.endpoint, `inspect image ${ref}`, () => Promise.reject(error));
    }
  }

  async remove(ref: string): Promise<void> {
    await guard(this.endpoint, `remove image ${ref}`, () => this.http.empty('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: true } }));
  }

  /** Adds a tag to an image (repo:tag). */
  async tag(ref: string, repo: string, tag: string): Promise<void> {
    await guard(this.endpoint, `tag ${ref} as ${repo}:${tag}`, () => this.http.empty('POST', `/images/${encodeURIComponent(ref)}/tag`, { query: { repo, tag } }));
  }

  /** Imports a root filesystem tarball as an image with the given labels; returns its ID. */
  async importTarball(file: string, repo: string, tag: string, labels: Record<string, string>): Promise<string> {
    const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`);
    const stream = await guard(this.endpoint, `import ${file}`, () =>
      this.http.call('POST', '/images/create', { query: { fromSrc: '-', repo, tag, changes }, stream: createReadStream(file) }),
    );
    const messages = await readJsonStream(stream);
    const problem = messages.find((m) => m.error);
    if (problem) throw failed(`the engine could not import ${file}: ${String(problem.error)}`, { fix: 'check that the file is a tar archive of a root filesystem' });
    const image = await this.inspect(`${repo}:${tag}`);
    if (!image) throw failed(`the engine imported ${file} but has no image ${repo}:${tag}`);
    return image.id;
  }

  /** Whether the engine has this reference (a tag, an image ID, or repo@sha256:… among its RepoDigests). */
  async has(ref: string): Promise<boolean> {
    return (await this.inspect(ref)) !== undefined;
  }

  /**
   * Pulls repo@digest (the repo names the registry, host:port/...), reading the
   * progress stream to its end; throws the engine's error (with the password,
   * should the engine ever echo it, hidden). Returns how many layers it downloaded.
   */
  async pull(repo: string, digest: string, auth: RegistryAuth): Promise<{ downloaded: number }> {
    const hide = (text: string) => (auth.password && auth.password.length > 0 ? text.split(auth.password).join('***') : text);
    let stream: Readable;
    try {
      stream = await guard(this.endpoint, `pull ${repo}@${digest}`, () => this.http.call('POST', '/images/create', { query: { fromImage: repo, tag: digest }, headers: { 'X-Registry-Auth': registryAuthHeader(auth) } }));
    } catch (error) {
      throw hidden(error, hide);
    }
    let error: string | undefined;
    const downloaded = new Set<string>();
    await readJsonStream(stream, (m) => {
      if (m.error) error = String(m.error);
      if (typeof m.id === 'string' && m.status === 'Download complete') downloaded.add(m.id);
    });
    if (error !== undefined) throw failed(`the engine at ${this.endpoint} could not pull ${repo}@${digest}: ${hide(error)}`, { fix: 'check that the registry runs ("berth registry status"), that this engine trusts its CA and reaches its address, and that the image was pushed ("berth push")' });
    return { downloaded: downloaded.size };
  }

  /**
   * Pushes repo:tag (the repo names the registry, host:port/...). Resolves with
   * the manifest digest from the stream's aux message; throws the engine's error.
   */
  async push(repo: string, tag: string, auth: RegistryAuth, onProgress?: (p: PushProgress) => void): Promise<PushResult> {
    const header = registryAuthHeader(auth);
    const stream = await guard(this.endpoint, `push ${repo}:${tag}`, () =>
      this.http.call('POST', `/images/${encodeURIComponent(repo)}/push`, { query: { tag }, headers: { 'X-Registry-Auth': header } }),
    );
    let result: { digest: string; size: number } | undefined;
    let error: string | undefined;
    const layers = new Map<string, string>();
    await readJsonStream(stream, (m) => {
      const aux = m.aux as { Digest?: string; Size?: number } | undefined;
      if (aux?.Digest) result = { digest: aux.Digest, size: aux.Size ?? 0 };
      if (m.error) error = String(m.error);
      if (typeof m.id === 'string' && typeof m.status === 'string') {
        layers.set(m.id, m.status);
        const detail = m.progressDetail as { current?: number; total?: number } | undefined;
        onProgress?.({ layer: m.id, status: m.status, ...(detail?.current !== undefined ? { current: detail.current } : {}), ...(detail?.total !== undefined ? { total: detail.total } : {}) });
      }
    });
    if (error !== undefined) throw failed(`the engine could not push ${repo}:${tag}: ${error}`);
    if (!result) throw failed(`the engine finished pushing ${repo}:${tag} without reporting a digest`);
    const statuses = [...layers.entries()];
    return {
      ...result,
      uploaded: statuses.filter(([, s]) => s === 'Pushed').map(([id]) => id),
      existing: statuses.filter(([, s]) => s === 'Layer already exists' || s.startsWith('Mounted from')).map(([id]) => id),
    };
  }

  async export(refs: readonly string[]): Promise<Readable> {
    return guard(this.endpoint, `export ${refs.join(', ')}`, () => this.http.call('GET', '/images/get', { query: { names: [...refs] } }));
  }

  /** The image's configuration; undefined when there is no such image. */
  async config(ref: string): Promise<ImageConfig | undefined> {
    try {
      const i = await this.http.json<{ Config: RawConfig | null }>('GET', `/images/${encodeURIComponent(ref)}/json`);
      return fromRawConfig(i.Config);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return guard(this.endpoint, `inspect image ${ref}`, () => Promise.reject(error));
    }
  }

  /**
   * One container instead of a step per instruction: create, upload, run, commit once.
   * Its output is read through the container's log (json-file whatever the engine's default,
   * so it can be read back) with stdout and stderr apart. A command that fails throws with
   * "returned a non-zero code: N", as the classic builder says it; the container goes in every case.
   */
  async buildInContainer(request: ContainerBuildRequest, onLine: (line: BuildLine) => void): Promise<string> {
    const what = `build ${request.tag}`;
    const created = await guard(this.endpoint, what, () =>
      this.http.json<{ Id: string }>('POST', '/containers/create', {
        body: { Image: request.parent, Entrypoint: [], Cmd: request.cmd, Env: request.env, Labels: request.labels, HostConfig: { LogConfig: { Type: 'json-file', Config: {} } } },
        timeoutMs: 120_000,
      }),
    );
    const id = created.Id;
    try {
      const upload = await guard(this.endpoint, what, () =>
        this.http.call('PUT', `/containers/${id}/archive`, { query: { path: '/' }, stream: Readable.from([request.files]), contentType: 'application/x-tar' }),
      );
      upload.resume();
      await guard(this.endpoint, what, () => this.http.empty('POST', `/containers/${id}/start`, { timeoutMs: 120_000 }));
      const logs = await guard(this.endpoint, what, () =>
        this.http.call('GET', `/containers/${id}/logs`, { query: { stdout: true, stderr: true, follow: true } }),
      );
      const lines = new BuildOutputLines();
      await followFrames(logs, (stream, text) => lines.take(stream, text).forEach(onLine));
      lines.end().forEach(onLine);
      const { StatusCode: code } = await guard(this.endpoint, what, () => this.http.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`, { timeoutMs: 0 }));
      if (code !== 0) {
        const error = `The command ${JSON.stringify(request.cmd)} returned a non-zero code: ${code}`;
        onLine({ kind: 'error', text: error });
        throw failed(error);
      }
      const [repo, tag] = splitTag(request.tag);
      const committed = await guard(this.endpoint, what, () =>
        this.http.json<{ Id: string }>('POST', '/commit', { query: { container: id, repo, tag, pause: false }, body: toRawConfig(request.config), timeoutMs: 0 }),
      );
      return committed.Id;
    } finally {
      await this.http.empty('DELETE', `/containers/${id}`, { query: { force: true, v: true } }).catch(() => {});
    }
  }

  /** Builds a context; streams each output line to `onLine`; returns the image ID or throws with the engine's error. */
  async build(context: Readable, request: BuildRequest, onLine: (line: BuildLine) => void): Promise<string> {
    const stream = await guard(this.endpoint, `build ${request.tag}`, () =>
      this.http.call('POST', '/build', {
        query: { t: request.tag, labels: request.labels, buildargs: request.buildArgs, rm: true, forcerm: true, version: '1' },
        stream: context,
      }),
    );
    const { imageId, error } = await readBuildStream(stream, onLine);
    if (error !== undefined) throw failed(error);
    if (imageId) return imageId;
    const built = await this.inspect(request.tag);
    if (!built) throw failed(`the engine finished building ${request.tag} without an image`);
    return built.id;
  }
}

type RawConfig = {
  Env?: string[] | null;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
};

function fromRawConfig(c: RawConfig | null | undefined): ImageConfig {
  return {
    env: c?.Env ?? [],
    labels: c?.Labels ?? {},
    exposedPorts: Object.keys(c?.ExposedPorts ?? {}),
    entrypoint: c?.Entrypoint ?? null,
    cmd: c?.Cmd ?? null,
    workingDir: c?.WorkingDir ?? '',
    user: c?.User ?? '',
  };
}

function toRawConfig(c: ImageConfig): RawConfig {
  return {
    Env: c.env,
    Labels: c.labels,
    ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])),
    Entrypoint: c.entrypoint,
    Cmd: c.cmd,
    WorkingDir: c.workingDir,
    User: c.user,
  };
}

/** The engine frames a non-TTY container's output as [stream, 0, 0, 0, size(4)] + payload; 2 is stderr. */
async function followFrames(stream: Readable, onFrame: (stream: 'stdout' | 'stderr', text: string) => void): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    let offset = 0;
    while (offset + 8 <= pending.length) {
      const size = pending.readUInt32BE(offset + 4);
      if (offset + 8 + size > pending.length) break;
      onFrame(pending[offset] === 2 ? 'stderr' : 'stdout', pending.subarray(offset + 8, offset + 8 + size).toString('utf8'));
      offset += 8 + size;
    }
    pending = pending.subarray(offset);
  }
}

/** X-Registry-Auth: the credentials as JSON in Go's base64.URLEncoding (the URL alphabet, with padding; Node's base64url has none). */
export function registryAuthHeader(auth: RegistryAuth): string {
  const json = JSON.stringify({ ...(auth.username !== undefined ? { username: auth.username, password: auth.password ?? '' } : {}), serveraddress: auth.serveraddress });
  return Buffer.from(json).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** "repo:tag" → [repo, tag]; a registry's port is part of the repo. */
function splitTag(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}

/** The same error with the password hidden in its message. */
function hidden(error: unknown, hide: (text: string) => string): unknown {
  if (error instanceof BerthError) {
    const fix = error.fix === undefined ? {} : { fix: hide(error.fix) };
    return new BerthError(error.kind, hide(error.message), { lines: error.lines.map(hide), ...fix });
  }
  return error;
}
