/**
 * One Engine API request whose whole answer is read before anything uses it:
 * the JSON calls, which are most of Berth's. It speaks HTTP/1.1 on its own
 * connection (`Connection: close`, so the answer ends when the engine closes).
 *
 * Why not node:http: its first request in a process costs ~8 ms more than a
 * socket's (its client, agent and parser warm up), and each later one ~1.5 ms
 * more; a no-op build is a handful of short look-ups in a fresh process, so
 * that was a tenth of it. Streams (logs, pushes, build output) stay on node:http.
 */
import { connect } from 'node:net';
import type { EngineTarget } from './http.js';

export interface WholeAnswer {
  status: number;
  body: Buffer;
}

export interface WholeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  payload?: Buffer | undefined;
  timeoutMs?: number | undefined;
}

export function wholeRequest(target: EngineTarget, request: WholeRequest): Promise<WholeAnswer> {
  return new Promise((resolve, reject) => {
    const socket = target.socketPath ? connect(target.socketPath) : connect(target.port ?? 2375, target.host ?? 'localhost');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    if (request.timeoutMs) {
      socket.setTimeout(request.timeoutMs, () => socket.destroy(Object.assign(new Error('the engine did not answer in time'), { code: 'ETIMEDOUT' })));
    }
    // write, not end: a half-closed connection reads to the engine (Go's net/http) as a client gone, which cancels the call.
    socket.on('connect', () => socket.write(requestBytes(request)));
  });
}

function requestBytes({ method, path, headers, payload }: WholeRequest): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: docker', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (payload || method === 'POST' || method === 'PUT') lines.push(`Content-Length: ${payload?.length ?? 0}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return payload ? Buffer.concat([head, payload]) : head;
}

/** Status line, headers, then the body as Content-Length, chunked encoding or "until closed" says. */
export function parseAnswer(raw: Buffer): WholeAnswer {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw connectionError('the engine closed the connection before a whole answer');
  const [statusLine = '', ...headerLines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw connectionError(`the engine answered something that is not HTTP: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers = new Map(headerLines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const rest = raw.subarray(headEnd + 4);
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) return { status, body: dechunk(rest) };
  const length = headers.get('content-length');
  if (length !== undefined) {
    if (rest.length < Number(length)) throw connectionError('the engine closed the connection in the middle of an answer');
    return { status, body: rest.subarray(0, Number(length)) };
  }
  return { status, body: rest };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw connectionError('the engine closed the connection in the middle of an answer');
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw connectionError('the engine sent a malformed chunked answer');
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (start + size > data.length) throw connectionError('the engine closed the connection in the middle of an answer');
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** Same code as a dropped connection under node:http, so the error mapping treats both alike. */
function connectionError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}
