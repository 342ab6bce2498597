/**
 * How bytes reach an engine: one undici keep-alive pool per engine, over its
 * unix socket or TCP (with mutual TLS), and what a failure to reach it means.
 *
 * Only undici's pool and its request API are loaded, not its index (fetch,
 * WebSocket, mocks: ~360 KB more to compile at every start), and only when the
 * first call is made, so commands that never reach an engine do not pay for it.
 */
import { readFileSync } from 'node:fs';
import type { Dispatcher, Pool } from 'undici';

export interface EngineTls {
  /** PEM files: the CA that signed the engine's certificate, and Berth's client certificate and key. */
  ca: string;
  cert: string;
  key: string;
}

export interface EngineTarget {
  socketPath?: string;
  host?: string;
  port?: number;
  /** Set for tcp:// engines that speak TLS (dockerd --tlsverify). */
  tls?: EngineTls;
  /** How long opening a connection (and its TLS handshake) may take; 5 s unless set. */
  connectTimeoutMs?: number;
}

export const CONNECT_TIMEOUT_MS = 5_000;

/** An engine that could not be reached: refused, timed out, TLS refused. `reason` completes "the engine at X …". */
export class EngineUnreachable extends Error {
  constructor(
    readonly endpoint: string,
    readonly code: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    // A reason starting with ":" reads as a clause of its own ("the engine at X: TLS handshake failed: ...").
    super(`the engine at ${endpoint}${reason.startsWith(':') ? '' : ' '}${reason}`, options);
  }
}

type RequestFn = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
let undici: Promise<{ Pool: typeof Pool; request: RequestFn }> | undefined;

function loadUndici() {
  undici ??= Promise.all([import('undici/lib/dispatcher/pool.js'), import('undici/lib/api/api-request.js')]).then(([pool, request]) => ({
    Pool: pool.default,
    request: request.default,
  }));
  return undici;
}

/** One engine's connection pool, made at the first request. */
export class Transport {
  #pool: Promise<{ pool: Pool; request: RequestFn }> | undefined;

  constructor(
    private readonly target: EngineTarget,
    readonly endpoint: string,
  ) {}

  async request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    const { pool, request } = await (this.#pool ??= this.open().catch((error: unknown) => {
      this.#pool = undefined;
      throw error;
    }));
    try {
      return await request.call(pool, options);
    } catch (error) {
      throw this.unreachable(error) ?? error;
    }
  }

  /** Turns a network-level failure into EngineUnreachable; anything else (an HTTP error, a bug) is not. */
  unreachable(error: unknown): EngineUnreachable | undefined {
    if (error instanceof EngineUnreachable) return error;
    const reason = reachFailure(error, this.target);
    return reason ? new EngineUnreachable(this.endpoint, reason.code, reason.text, { cause: error }) : undefined;
  }

  async close(): Promise<void> {
    const opened = this.#pool;
    this.#pool = undefined;
    if (opened) await (await opened).pool.close();
  }

  private async open(): Promise<{ pool: Pool; request: RequestFn }> {
    const { Pool, request } = await loadUndici();
    const { socketPath, host = 'localhost', port, tls } = this.target;
    const timeout = this.target.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const origin = socketPath ? 'http://docker' : `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port ?? (tls ? 2376 : 2375)}`;
    const pool = new Pool(origin, {
      // Streams (logs, builds) hold a connection each for as long as they run, so the pool has no cap.
      connections: null,
      keepAliveTimeout: 30_000,
      // Each request sets its own; 0 here means a request without one waits as long as it must (a follow).
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: socketPath ? { socketPath, timeout } : { timeout, ...(tls ? this.readTls(tls) : {}) },
    });
    return { pool, request };
  }

  private readTls(tls: EngineTls): { ca: Buffer; cert: Buffer; key: Buffer } {
    const read = (what: string, file: string) => {
      try {
        return readFileSync(file);
      } catch (error) {
        throw new EngineUnreachable(this.endpoint, 'ETLSFILE', `cannot be reached: its TLS ${what} ${file} cannot be read (${(error as { code?: string }).code ?? String(error)})`, { cause: error });
      }
    };
    return { ca: read('CA', tls.ca), cert: read('certificate', tls.cert), key: read('key', tls.key) };
  }
}

/** What went wrong reaching the engine, in words, or undefined when the engine was reached. */
function reachFailure(error: unknown, target: EngineTarget): { code: string; text: string } | undefined {
  const e = error as { code?: string; message?: string; name?: string };
  const code = e.code ?? '';
  const detail = e.message ?? String(error);
  const at = (text: string) => ({ code, text });
  switch (code) {
    case 'ECONNREFUSED':
      return at('refused the connection (ECONNREFUSED): nothing listens there');
    case 'ENOENT':
      return at(`cannot be reached: there is no socket ${target.socketPath ?? ''} (ENOENT)`);
    case 'EACCES':
      return at('cannot be reached: permission denied (EACCES)');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return at(`cannot be reached: no route to the host (${code})`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return at(`cannot be reached: its host name does not resolve (${code})`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return at(`closed the connection (${code})${target.tls ? '; a TLS engine does this when it refuses the client certificate' : ''}`);
    case 'UND_ERR_CONNECT_TIMEOUT':
      return at(`did not accept a connection within ${seconds(target.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)}`);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return at(`did not start answering in time (${code})`);
    case 'ETIMEDOUT':
      return at(detail.startsWith('did not') ? detail : `did not answer in time (ETIMEDOUT)`);
  }
  const tls = tlsFailure(code, detail);
  return tls ? at(`: ${tls}`) : undefined;
}

/** Node's TLS error codes in the words a user knows from the docker CLI. */
function tlsFailure(code: string, detail: string): string | undefined {
  if (/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?)$/.test(code)) {
    return `TLS handshake failed: certificate signed by unknown authority (${code}); is tls.ca the CA that signed the engine's certificate?`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS handshake failed: the engine's certificate is not for this address (${detail})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS handshake failed: the engine's certificate is out of date (${code})`;
  if (/^ERR_SSL_.*(CERTIFICATE|UNKNOWN_CA|BAD_CERT|HANDSHAKE_FAILURE|ACCESS_DENIED)/.test(code)) {
    return `TLS handshake failed: the engine refused Berth's client certificate (${code}); is tls.cert signed by the CA the engine trusts (--tlscacert)?`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code.startsWith('ERR_OSSL_')) return `TLS handshake failed: ${detail} (${code})`;
  return undefined;
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
