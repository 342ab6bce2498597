/**
 * HTTP load for integration tests and benchmarks: a bounded loop of GETs
 * against one URL (a front door) with a few requests in flight, counting
 * successes, failures (non-2xx answers and network errors, by kind), which
 * answer (body) came back and how long each request took.
 */
import { Agent, request } from 'node:http';
import { sleep } from '../time.js';

export interface LoadResult {
  /** Requests that finished: ok + failed. */
  requests: number;
  ok: number;
  failed: number;
  /** Failures by kind: "HTTP 503", "ECONNREFUSED", "timeout", … */
  kinds: Record<string, number>;
  /** Milliseconds of every finished request, in the order they finished. */
  latencies: number[];
  /** Body (trimmed) of each 2xx answer → how many times it came back. */
  answers: Map<string, number>;
  /** The first failures, for the assertion message. */
  failures: string[];
  ms: number;
}

export interface LoadOptions {
  /** Requests in flight (default 4). */
  concurrency?: number;
  /** Stop after this many requests (default: until stop()). */
  maxRequests?: number;
  /** A safety net: stop after this long even if nobody calls stop() (default 120 s). */
  maxMs?: number;
  /** Pause of each worker between its requests (default 2 ms), so the loop does not saturate the machine. */
  pauseMs?: number;
  /** Instead of pauseMs: each worker starts a request at most every paceMs (a steady rate whatever the answers take). */
  paceMs?: number;
  /** Each request on a new connection (as many clients would), instead of keep-alive connections. */
  newConnections?: boolean;
  /** Per request (default 5 s). */
  timeoutMs?: number;
}

export interface Load {
  /** The counters so far. */
  snapshot(): LoadResult;
  /** Ends the loop, waits for the requests in flight and returns the counters. */
  stop(): Promise<LoadResult>;
  /** Waits until the loop ends by itself (maxRequests or maxMs). */
  done(): Promise<LoadResult>;
}


/** One GET: status and body. */
export function get(url: string, options: { agent?: Agent; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: options.agent ?? false, timeout: options.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs ?? 5000} ms`), { code: 'timeout' })));
    req.once('error', reject);
    req.end();
  });
}

export function startLoad(url: string, options: LoadOptions = {}): Load {
  const concurrency = options.concurrency ?? 4;
  const started = Date.now();
  const deadline = started + (options.maxMs ?? 120_000);
  const max = options.maxRequests ?? Infinity;
  // Its own keep-alive connections, closed at the end: no idle connection outlives the loop.
  const agent = options.newConnections ? undefined : new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { requests: 0, ok: 0, failed: 0, kinds: {}, latencies: [], answers: new Map(), failures: [], ms: 0 };
  let sent = 0;
  let stopped = false;
  const fail = (kind: string, text: string) => {
    result.failed += 1;
    result.kinds[kind] = (result.kinds[kind] ?? 0) + 1;
    if (result.failures.length < 20) result.failures.push(`${new Date().toISOString()} ${text}`);
  };
  const worker = async () => {
    while (!stopped && sent < max && Date.now() < deadline) {
      sent += 1;
      const begun = performance.now();
      try {
        const answer = await get(url, { ...(agent ? { agent } : {}), timeoutMs: options.timeoutMs ?? 5000 });
        if (answer.status >= 200 && answer.status < 300) {
          result.ok += 1;
          const body = answer.body.trim();
          result.answers.set(body, (result.answers.get(body) ?? 0) + 1);
        } else {
          fail(`HTTP ${answer.status}`, `HTTP ${answer.status}: ${answer.body.trim().slice(0, 200)}`);
        }
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        fail(code ?? (error as Error).message, `${code ?? ''} ${(error as Error).message}`);
      }
      const took = performance.now() - begun;
      result.requests += 1;
      result.latencies.push(took);
      const pause = options.paceMs !== undefined ? options.paceMs - took : (options.pauseMs ?? 2);
      if (pause > 0 && !stopped) await sleep(pause);
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
    agent?.destroy();
    result.ms = Date.now() - started;
    return result;
  });
  return {
    snapshot: () => ({ ...result, kinds: { ...result.kinds }, latencies: [...result.latencies], answers: new Map(result.answers), failures: [...result.failures], ms: Date.now() - started }),
    stop() {
      stopped = true;
      return workers;
    },
    done: () => workers,
  };
}

/** Exactly `count` requests, `concurrency` at a time. */
export function sendRequests(url: string, count: number, concurrency = 4): Promise<LoadResult> {
  return startLoad(url, { concurrency, maxRequests: count, pauseMs: 0 }).done();
}
