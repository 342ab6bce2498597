/**
 * How bytes reach an engine: one keep-alive node:http agent per engine, over its
 * unix socket or TCP (node:https with mutual TLS), and what a failure to reach it means.
 *
 * Why node:http and not undici (Berth's client for a while): undici parses HTTP with
 * llhttp compiled to WebAssembly, compiled again in every process, and loads
 * node:http2 and node:tls at start-up; a no-op build went from 292 to 356 ms (median
 * of 11 runs). node:http has the same llhttp built into Node, an agent that keeps
 * connections alive, and nothing to compile. This module loads node:http at the first
 * call and node:https only for a TLS engine (the registry client, registry/client.ts,
 * still imports both at start-up).
 */
import { readFileSync } from 'node:fs';
import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import type { Readable } from 'node:stream';

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
/** An idle kept-alive connection is closed after this long. */
const IDLE_TIMEOUT_MS = 30_000;

/** One request to the engine; the answer comes back as node:http's IncomingMessage. */
export interface EngineRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Readable | undefined;
  /** Until the answer's headers (a stream's deadline); 0 or unset for none. */
  headersTimeoutMs?: number;
  /** For the whole exchange, the answer's body included (a JSON call's deadline); 0 or unset for none. */
  deadlineMs?: number;
}

export type { IncomingHttpHeaders, IncomingMessage };

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

type RequestFn = (options: RequestOptions) => ClientRequest;

interface Opened {
  agent: Agent;
  request: RequestFn;
}

/** One engine's keep-alive agent, made at the first request. */
export class Transport {
  #opened: Promise<Opened> | undefined;

  constructor(
    private readonly target: EngineTarget,
    readonly endpoint: string,
  ) {}

  /** Resolves once the answer's headers arrived; rejects with EngineUnreachable when the engine was not reached. */
  async request(call: EngineRequest): Promise<IncomingMessage> {
    const opened = await (this.#opened ??= this.open().catch((error: unknown) => {
      this.#opened = undefined;
      throw error;
    }));
    try {
      return await send(opened, this.target, call);
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

  /** Closes the idle connections now and the others when their call ends. */
  async close(): Promise<void> {
    const opened = this.#opened;
    this.#opened = undefined;
    const agent = await opened?.then(
      (o) => o.agent,
      () => undefined,
    );
    if (!agent) return;
    agent.keepSocketAlive = () => false;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  private async open(): Promise<Opened> {
    const timeoutMs = this.target.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const { tls } = this.target;
    if (tls && !this.target.socketPath) {
      const files = this.readTls(tls);
      const https = await import('node:https');
      const agent = new https.Agent({ keepAlive: true, timeout: IDLE_TIMEOUT_MS, ...files, rejectUnauthorized: true });
      return { agent: limitConnect(agent, timeoutMs, 'secureConnect'), request: https.request };
    }
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true, timeout: IDLE_TIMEOUT_MS });
    return { agent: limitConnect(agent, timeoutMs, 'connect'), request: http.request };
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

/** node:http has no connect timeout of its own: a socket (and its TLS handshake) not ready within `ms` is destroyed. */
function limitConnect(agent: Agent, ms: number, ready: 'connect' | 'secureConnect'): Agent {
  const open = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = open(options, callback);
    if (socket) {
      const timer = setTimeout(() => socket.destroy(timeoutError(`did not accept a connection within ${seconds(ms)}`)), ms);
      const settle = () => clearTimeout(timer);
      socket.once(ready, settle).once('close', settle);
    }
    return socket;
  };
  return agent;
}

function send({ agent, request }: Opened, target: EngineTarget, call: EngineRequest): Promise<IncomingMessage> {
  const { socketPath, host = 'localhost', port } = target;
  return new Promise((resolve, reject) => {
    const req = request({
      agent,
      method: call.method,
      path: call.path,
      headers: call.headers,
      ...(socketPath ? { socketPath } : { host, port: port ?? (target.tls ? 2376 : 2375) }),
    });
    let response: IncomingMessage | undefined;
    const headersTimer = call.headersTimeoutMs ? setTimeout(() => req.destroy(timeoutError(`did not start answering within ${seconds(call.headersTimeoutMs ?? 0)}`)), call.headersTimeoutMs) : undefined;
    const deadline = call.deadlineMs
      ? setTimeout(() => {
          const error = timeoutError(`did not answer within ${seconds(call.deadlineMs ?? 0)}`);
          response?.destroy(error);
          req.destroy(error);
        }, call.deadlineMs)
      : undefined;
    req.on('response', (answer) => {
      clearTimeout(headersTimer);
      response = answer;
      answer.once('close', () => clearTimeout(deadline));
      resolve(answer);
    });
    // Also after the answer began: its body then fails on its own (node:http destroys it), and the deadline goes.
    req.on('error', (error) => {
      clearTimeout(headersTimer);
      clearTimeout(deadline);
      reject(error);
    });
    if (typeof call.body === 'object') {
      call.body.on('error', (error) => req.destroy(error));
      call.body.pipe(req);
    } else {
      req.end(call.body);
    }
  });
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
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
      return at(`closed the connection (${code})${target.tls ? '; a TLS engine does this when it refuses the client certificate' : ''}`);
    case 'ETIMEDOUT':
      // Berth's own deadlines say which ("did not accept a connection within 5 s"); the kernel's is a connect that timed out.
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
