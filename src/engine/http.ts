/**
 * A small Docker Engine API client over HTTP (unix socket or TCP).
 *
 * Berth used dockerode first; it loads ssh2, gRPC and protobufjs at start-up
 * (~90 ms of a 280 ms no-op build here), for transports Berth never uses. The
 * Engine API is plain HTTP+JSON, so this client speaks it directly.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Readable } from 'node:stream';
import { wholeRequest } from './whole-request.js';

export interface EngineTarget {
  socketPath?: string;
  host?: string;
  port?: number;
}

export type Query = Record<string, string | number | boolean | string[] | Record<string, unknown> | undefined>;

/** What json() and empty() send: their answer is read whole, so no request stream. */
export interface WholeOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Extra request headers (e.g. X-Registry-Auth for a push). */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface CallOptions extends WholeOptions {
  /** Sent as-is instead of a JSON body (tar archives). */
  stream?: Readable;
  contentType?: string;
}

/** What a failed call carries: the status and the engine's own message. */
export class EngineCallError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class EngineHttp {
  constructor(private readonly target: EngineTarget) {}

  /** Sends a request; resolves with the response once headers arrive (for streams); rejects on 4xx/5xx with the engine's message. */
  async call(method: string, path: string, options: CallOptions = {}): Promise<IncomingMessage> {
    const response = await this.send(method, path, options);
    const status = response.statusCode ?? 0;
    if (status < 400) return response;
    throw callError(status, await readText(response));
  }

  async json<T>(method: string, path: string, options: WholeOptions = {}): Promise<T> {
    const text = (await this.wholeAnswer(method, path, options)).body.toString('utf8');
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** For calls whose answer is only the status (start, stop, remove). */
  async empty(method: string, path: string, options: WholeOptions = {}): Promise<number> {
    return (await this.wholeAnswer(method, path, options)).status;
  }

  private async wholeAnswer(method: string, path: string, options: WholeOptions): Promise<{ status: number; body: Buffer }> {
    const { headers, payload } = jsonRequest(options);
    const answer = await wholeRequest(this.target, { method, path: path + queryString(options.query), headers, payload, timeoutMs: options.timeoutMs });
    if (answer.status >= 400) throw callError(answer.status, answer.body.toString('utf8'));
    return answer;
  }

  private send(method: string, path: string, options: CallOptions): Promise<IncomingMessage> {
    const { headers, payload } = jsonRequest(options);
    if (payload) {
      headers['Content-Length'] = String(payload.length);
    } else if (options.stream) {
      headers['Content-Type'] = options.contentType ?? 'application/x-tar';
    }
    const requestOptions: RequestOptions = {
      method,
      path: path + queryString(options.query),
      headers,
      ...(this.target.socketPath ? { socketPath: this.target.socketPath } : { host: this.target.host, port: this.target.port }),
    };
    return new Promise((resolve, reject) => {
      const req = httpRequest(requestOptions, resolve);
      req.on('error', reject);
      if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(Object.assign(new Error('the engine did not answer in time'), { code: 'ETIMEDOUT' })));
      if (options.stream) {
        options.stream.on('error', (error) => req.destroy(error));
        options.stream.pipe(req);
      } else {
        req.end(payload);
      }
    });
  }
}

/** The headers and the JSON-encoded body, if there is one. */
function jsonRequest(options: WholeOptions): { headers: Record<string, string>; payload: Buffer | undefined } {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body === undefined) return { headers, payload: undefined };
  headers['Content-Type'] = 'application/json';
  return { headers, payload: Buffer.from(JSON.stringify(options.body)) };
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
