/**
 * The CLI's client of a Berth server (node:http/https, as the engine client:
 * no library's start-up cost on every command). A server's error body becomes
 * the same BerthError the core would have thrown in-process, so the CLI
 * renders it, and exits, exactly as it does without a server.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BerthError, BerthErrors, unavailable, type ErrorKind } from '../errors.js';
import type { ServerTarget } from './target.js';

const CALL_TIMEOUT_MS = 60_000;
/** A request that starts a rollout is answered once it is journaled, after images are pulled to every host: it may take long. */
export const ROLLOUT_START_TIMEOUT_MS = 30 * 60_000;
const STREAM_IDLE_MS = 45_000;

export interface ServerClient {
  readonly target: ServerTarget;
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  post<T>(path: string, body?: unknown, options?: { timeoutMs?: number }): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
  /** A streaming GET (the event stream): the response once its headers arrived. */
  stream(path: string, headers?: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage>;
  close(): void;
}

interface WireError {
  error?: { kind?: ErrorKind; message?: string; fix?: string; lines?: string[]; problems?: { kind: ErrorKind; message: string; fix?: string; lines?: string[] }[] };
}

/** Where the address of a server that is not one came from, for the fix. */
const NOT_A_SERVER_FIX = 'check the server address: --server, BERTH_SERVER, or server: in ~/.config/berth/config.yaml (a Berth server answers GET /v1/openapi.json)';

export function errorFromBody(status: number, body: WireError, url: string): BerthError {
  const e = body.error;
  if (!e?.kind || !e.message) return new BerthError(status >= 500 ? 'failed' : 'invalid', `the server answered ${status} to ${url} without an error body`, { fix: NOT_A_SERVER_FIX });
  const one = (p: { kind: ErrorKind; message: string; fix?: string; lines?: string[] }) => new BerthError(p.kind, p.message, { ...(p.fix ? { fix: p.fix } : {}), ...(p.lines ? { lines: p.lines } : {}) });
  if (e.problems && e.problems.length > 1) return new BerthErrors(e.problems.map(one));
  return one({ kind: e.kind, message: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.lines ? { lines: e.lines } : {}) });
}

/** Errors that say the request never reached a server: another one of the list may take it. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET_BEFORE_SEND']);

export function connectServer(target: ServerTarget): ServerClient {
  const servers = [target.url, ...(target.others ?? [])];
  /** The server that answered last: the next request goes there first. */
  let current = 0;
  let httpsAgent: HttpsAgent | undefined;
  let httpAgent: HttpAgent | undefined;
  const agentOf = (url: URL) =>
    url.protocol === 'https:' ? (httpsAgent ??= new HttpsAgent({ keepAlive: true, ...(target.ca ? { ca: readFileSync(target.ca) } : {}) })) : (httpAgent ??= new HttpAgent({ keepAlive: true }));
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({ accept: 'application/json', ...(target.token ? { authorization: `Bearer ${target.token}` } : {}), ...extra });

  const openAt = (url: URL, method: string, path: string, body: string | undefined, extra: Record<string, string>, signal?: AbortSignal, timeoutMs = CALL_TIMEOUT_MS): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const base = url.href.replace(/\/$/, '');
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(`${base}${path}`, { method, agent: agentOf(url), headers: headers({ ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extra }), ...(signal ? { signal } : {}) }, resolve);
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') return reject(error);
        const code = error.code ?? error.message;
        reject(unavailable(`cannot reach the Berth server at ${base}: ${code}`, { fix: 'start it (berth server), or check BERTH_SERVER / --server', cause: Object.assign(error, { notReached: NOT_REACHED.has(code) }) }));
      });
      req.end(body);
    });

  /**
   * Asks the server that answered last, then each other one in turn when it is not reached. A
   * request that reached a server and lost its answer is not sent again (it may have run), except
   * a GET, which changes nothing.
   */
  const open = async (method: string, path: string, body: string | undefined, extra: Record<string, string>, signal?: AbortSignal, timeoutMs = CALL_TIMEOUT_MS): Promise<IncomingMessage> => {
    let last: unknown;
    for (let tried = 0; tried < servers.length; tried++) {
      const index = (current + tried) % servers.length;
      try {
        const res = await openAt(servers[index]!, method, path, body, extra, signal, timeoutMs);
        current = index;
        return res;
      } catch (error) {
        last = error;
        const cause = (error as { cause?: { notReached?: boolean } }).cause;
        if (signal?.aborted || !(error instanceof BerthError) || (!cause?.notReached && method !== 'GET')) throw error;
      }
    }
    throw last;
  };
  const baseOf = () => servers[current]!.href.replace(/\/$/, '');

  const call = async <T>(method: string, path: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<T> => {
    const res = await open(method, path, body === undefined ? undefined : JSON.stringify(body), {}, undefined, timeoutMs);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw unavailable(`the server at ${baseOf()} answered ${res.statusCode} to ${method} ${path} with something that is not JSON`, { fix: NOT_A_SERVER_FIX });
    }
    if ((res.statusCode ?? 500) >= 400) throw errorFromBody(res.statusCode ?? 500, parsed as WireError, `${method} ${path}`);
    return parsed as T;
  };

  const withQuery = (path: string, query?: Record<string, string | number | undefined>) => {
    const entries = Object.entries(query ?? {}).filter(([, v]) => v !== undefined) as [string, string | number][];
    return entries.length === 0 ? path : `${path}?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}`;
  };

  return {
    target,
    get: (path, query) => call('GET', withQuery(path, query)),
    post: (path, body, options) => call('POST', path, body ?? {}, options?.timeoutMs),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
    stream: async (path, extra = {}, signal) => {
      // No deadline for the whole stream; but the server sends a keep-alive comment every 15 s, so a silent one is gone (a partition, a machine down): the follower reconnects.
      const res = await open('GET', path, undefined, { accept: 'text/event-stream', ...extra }, signal, 0);
      res.socket.setTimeout(STREAM_IDLE_MS, () => res.destroy(new Error(`the event stream was silent for ${STREAM_IDLE_MS / 1000} s`)));
      if ((res.statusCode ?? 500) >= 400) {
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        throw errorFromBody(res.statusCode ?? 500, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as WireError, `GET ${path}`);
      }
      return res;
    },
    close: () => {
      httpAgent?.destroy();
      httpsAgent?.destroy();
    },
  };
}
