/**
 * A small Docker Engine API client: HTTP+JSON over one keep-alive node:http
 * agent per engine (transport.ts), on a versioned path (/v1.41/...) negotiated
 * once per engine.
 *
 * Berth used dockerode first; it loads ssh2, gRPC and protobufjs at start-up
 * for transports Berth never uses, and opens a connection per request. Then
 * undici, whose start-up (a WebAssembly HTTP parser, node:http2) cost ~60 ms
 * of every command; transport.ts says more.
 */
import type { Readable } from 'node:stream';
import { Transport, type EngineRequest, type EngineTarget, type IncomingHttpHeaders } from './transport.js';

export type { EngineTarget, EngineTls } from './transport.js';

export type Query = Record<string, string | number | boolean | string[] | Record<string, unknown> | undefined>;

/** What json() and empty() send: their answer is read whole, so no request stream. */
export interface WholeOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Extra request headers (e.g. X-Registry-Auth for a push). */
  headers?: Record<string, string>;
  /** json()/empty(): the whole call, 60 s unless set; 0 for none (a wait for a container's exit). call(): until the answer's headers, 120 s unless set. */
  timeoutMs?: number;
}

export interface CallOptions extends WholeOptions {
  /** Sent as-is instead of a JSON body (tar archives). */
  stream?: Readable;
  contentType?: string;
}

/** A streamed answer: the body as a readable stream, with its status and headers. */
export type EngineResponse = Readable & { statusCode: number; headers: IncomingHttpHeaders };

/**
 * A safety net, not a reachability test (the 5 s connect and ping deadlines are): an engine that
 * answers may take tens of seconds for one call when its machine is busy (seen: over 30 s for an
 * inspect on 2 cores at load 60), and failing such a call would fail a rollout on a healthy host.
 */
export const CALL_TIMEOUT_MS = 60_000;
/** A stream's headers come once the engine has begun (a build: once it has read the whole context). */
export const STREAM_HEADERS_TIMEOUT_MS = 120_000;
/** The newest Engine API whose bodies Berth knows (instance-spec.ts: the MAC moved to the endpoint in 1.44). */
export const NEWEST_API = '1.44';

/** What a failed call carries: the status and the engine's own message. */
export class EngineCallError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** GET /version's answer (asked unversioned, once per engine). */
export interface RawVersion {
  Version: string;
  ApiVersion: string;
  Os: string;
  KernelVersion: string;
}

export class EngineHttp {
  readonly endpoint: string;
  readonly #transport: Transport;
  #version: Promise<RawVersion> | undefined;
  #apiVersion: Promise<string> | undefined;

  constructor(
    target: EngineTarget,
    endpoint = target.socketPath ? `unix://${target.socketPath}` : `tcp://${target.host ?? 'localhost'}:${target.port ?? 2375}`,
  ) {
    this.endpoint = endpoint;
    this.#transport = new Transport(target, endpoint);
  }

  /** Sends a request; resolves with the response once headers arrive (for streams); rejects on 4xx/5xx with the engine's message. */
  async call(method: string, path: string, options: CallOptions = {}): Promise<EngineResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body: EngineRequest['body'];
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    } else if (options.stream) {
      headers['Content-Type'] = options.contentType ?? 'application/x-tar';
      body = options.stream;
    }
    const answer = await this.#transport.request({
      method,
      path: (await this.prefix(path)) + path + queryString(options.query),
      headers,
      body,
      headersTimeoutMs: options.timeoutMs ?? STREAM_HEADERS_TIMEOUT_MS,
    });
    const statusCode = answer.statusCode ?? 0;
    if (statusCode >= 400) throw callError(statusCode, await readText(answer));
    return Object.assign(answer, { statusCode });
  }

  async json<T>(method: string, path: string, options: WholeOptions = {}): Promise<T> {
    const text = (await this.whole(method, path, options)).body.toString('utf8');
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** For calls whose answer is only the status (start, stop, remove). */
  async empty(method: string, path: string, options: WholeOptions = {}): Promise<number> {
    return (await this.whole(method, path, options)).status;
  }

  /** The engine's version, asked once (a failed ask is not kept, so the next call asks again). */
  version(): Promise<RawVersion> {
    this.#version ??= this.whole('GET', '/version', { timeoutMs: 5_000 }, '').then(
      (answer) => JSON.parse(answer.body.toString('utf8')) as RawVersion,
      (error: unknown) => {
        this.#version = undefined;
        throw error;
      },
    );
    return this.#version;
  }

  /**
   * The API version Berth speaks to this engine: the engine's own, or the newest Berth knows if the engine
   * is newer. Read from GET /_ping's API-Version header, as the docker CLI does: /version runs runc and
   * docker-init to report their versions (tens of ms), a ping costs the engine nothing.
   */
  apiVersion(): Promise<string> {
    this.#apiVersion ??= this.whole('GET', '/_ping', { timeoutMs: 5_000 }, '').then(
      async (answer) => {
        const engine = answer.apiVersion ?? (await this.version()).ApiVersion;
        return compareApi(engine, NEWEST_API) <= 0 ? engine : NEWEST_API;
      },
      (error: unknown) => {
        this.#apiVersion = undefined;
        throw error;
      },
    );
    return this.#apiVersion;
  }

  /** Ends the agent's idle connections (a process that is done with the engine need not wait for them). */
  close(): Promise<void> {
    return this.#transport.close();
  }

  private async prefix(path: string): Promise<string> {
    return path === '/_ping' ? '' : `/v${await this.apiVersion()}`;
  }

  /** One request whose answer is read whole, within a deadline for the whole exchange. */
  private async whole(method: string, path: string, options: WholeOptions, prefix?: string): Promise<{ status: number; body: Buffer; apiVersion?: string }> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const versioned = (prefix ?? (await this.prefix(path))) + path + queryString(options.query);
    const answer = await this.#transport.request({ method, path: versioned, headers, body, deadlineMs: options.timeoutMs ?? CALL_TIMEOUT_MS });
    let bytes: Buffer;
    try {
      bytes = await readBuffer(answer);
    } catch (error) {
      throw this.#transport.unreachable(error) ?? error;
    }
    const status = answer.statusCode ?? 0;
    if (status >= 400) throw callError(status, bytes.toString('utf8'));
    const apiVersion = answer.headers['api-version'];
    return { status, body: bytes, ...(typeof apiVersion === 'string' ? { apiVersion } : {}) };
  }
}

function callError(status: number, text: string): EngineCallError {
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // A plain-text error body is the message itself.
  }
  return new EngineCallError(status, message);
}

/** Compares "1.41"-style API versions: negative, zero or positive. */
export function compareApi(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Objects are JSON-encoded and lists repeat their key, as the Engine API expects. */
export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else if (typeof value === 'object') params.append(key, JSON.stringify(value));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
