/**
 * HAProxy's runtime API: one command per call, sent by a transport (an exec
 * in the door's container, which alone reaches the admin socket). Changes
 * servers, weights and states of a running front door without a reload, and
 * reads its counters ("show stat").
 */
import { conflict, failed, isBerthError, notFound } from '../errors.js';
import { sleep } from '../time.js';
import { BACKEND, hostPort, splitHostPort } from './haproxy-config.js';
import type { LbServer, ProxyStats, ResponseCounts, ServerState, ServerStats, StatsSnapshot } from './model.js';

/** Sends one command to HAProxy and resolves with its whole answer; unavailable when HAProxy cannot be reached. */
export type RuntimeTransport = (command: string) => Promise<string>;

export class HaproxyRuntime {
  constructor(readonly command: RuntimeTransport) {}

  /** Runs a command that answers nothing (or `ok`) on success; any other answer is an error. */
  private async run(text: string, ok?: string): Promise<void> {
    const answer = (await this.command(text)).trim();
    if (answer === '' || answer === ok) return;
    throw commandError(text, answer);
  }

  /**
   * Adds a server. HAProxy 2.6 starts a dynamic server in maintenance, so it
   * is then enabled (or set to drain) unless it should stay in maintenance.
   */
  async addServer(server: LbServer): Promise<void> {
    await this.run(`add server ${BACKEND}/${server.name} ${hostPort(server.address, server.port)} weight ${server.weight}`, 'New server registered.');
    if (server.state !== 'maint') await this.setState(server.name, server.state);
  }

  async setWeight(name: string, weight: number): Promise<void> {
    await this.run(`set weight ${BACKEND}/${name} ${weight}`);
  }

  async setState(name: string, state: ServerState): Promise<void> {
    await this.run(`set server ${BACKEND}/${name} state ${state}`);
  }

  async setAddress(name: string, address: string, port: number): Promise<void> {
    const answer = (await this.command(`set server ${BACKEND}/${name} addr ${address} port ${port}`)).trim();
    // 2.6 answers with what changed ("IP changed from … to …, port changed from …"), or nothing.
    if (answer !== '' && !/changed|no need to change/i.test(answer)) throw commandError(`set server ${BACKEND}/${name} addr`, answer);
  }

  /**
   * Takes a server out for good: maintenance (no new requests), then waits up
   * to `timeoutMs` for its requests in flight, cuts the ones still open after
   * that, and deletes it. Returns false when requests had to be cut. A server
   * that is not there counts as removed.
   */
  async removeServer(name: string, timeoutMs = 10_000): Promise<boolean> {
    try {
      await this.setState(name, 'maint');
    } catch (error) {
      if (isBerthError(error) && error.kind === 'not-found') return true;
      throw error;
    }
    const drained = await this.waitDrained(name, timeoutMs);
    if (!drained) await this.run(`shutdown sessions server ${BACKEND}/${name}`);
    // "del server" refuses while connections are still attached (also idle
    // ones being closed), so it is tried again for a short while.
    const deadline = Date.now() + 3000;
    for (;;) {
      const answer = (await this.command(`del server ${BACKEND}/${name}`)).trim();
      if (answer === 'Server deleted.' || answer === 'No such server.') return drained;
      if (!/still has connections|queue is not empty/i.test(answer) || Date.now() > deadline) throw commandError(`del server ${BACKEND}/${name}`, answer);
      await sleep(50);
    }
  }

  /** Waits until the server has no request in flight; false when `timeoutMs` passed first. A missing server is drained. */
  async waitDrained(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const server = (await this.stats()).find((s) => s.name === name);
      if (!server || server.current === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    }
  }

  /** The servers of the front door's backend with their counters. */
  async stats(): Promise<ServerStats[]> {
    return (await this.snapshot()).servers;
  }

  /** The frontend, the backend and each server, from one "show stat". */
  async snapshot(): Promise<StatsSnapshot> {
    return parseShowStat(await this.command('show stat'));
  }
}

function commandError(command: string, answer: string) {
  const first = answer.split('\n')[0] ?? answer;
  if (/^No such (server|backend)/i.test(first)) return notFound(`HAProxy: ${command}: ${first}`);
  if (/already exists/i.test(first)) return conflict(`HAProxy: ${command}: ${first}`);
  return failed(`HAProxy refused "${command}": ${first}`, { lines: answer.split('\n').slice(1, 6) });
}

/** One CSV line, with HAProxy's quoting of fields that hold commas or quotes. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** Reads "show stat" (CSV with a "# pxname,svname,…" header) into Berth's counters for the front door's proxies. */
export function parseShowStat(csv: string): StatsSnapshot {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw failed('HAProxy answered "show stat" without its CSV header', { lines: lines.slice(0, 3) });
  const columns = splitCsvLine(header.slice(2));
  const rows = lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const fields = splitCsvLine(l);
      return (name: string) => fields[columns.indexOf(name)] ?? '';
    });
  const frontend = rows.find((r) => r('pxname') === 'fe' && r('svname') === 'FRONTEND');
  const backend = rows.find((r) => r('pxname') === BACKEND && r('svname') === 'BACKEND');
  const servers = rows.filter((r) => r('pxname') === BACKEND && r('svname') !== 'BACKEND' && r('svname') !== 'FRONTEND');
  return { frontend: frontend ? proxyStats(frontend) : emptyProxyStats(), backend: backend ? proxyStats(backend) : emptyProxyStats(), servers: servers.map(serverStats) };
}

type Row = (column: string) => string;

const num = (value: string): number => {
  const n = Number(value);
  return value === '' || !Number.isFinite(n) ? 0 : n;
};

function responses(r: Row): ResponseCounts {
  return { '2xx': num(r('hrsp_2xx')), '3xx': num(r('hrsp_3xx')), '4xx': num(r('hrsp_4xx')), '5xx': num(r('hrsp_5xx')), other: num(r('hrsp_1xx')) + num(r('hrsp_other')) };
}

/** A server HAProxy reports, as the spec's server it would be (to change one server and write the others back). */
export function lbServerOf(stats: ServerStats): LbServer {
  const { address, port } = splitHostPort(stats.address);
  return { name: stats.name, address, port, weight: stats.weight, state: stats.state };
}

export function stateOfStatus(status: string): ServerState {
  if (status.startsWith('MAINT')) return 'maint';
  if (status.startsWith('DRAIN')) return 'drain';
  return 'ready';
}

function serverStats(r: Row): ServerStats {
  const status = r('status');
  return {
    name: r('svname'),
    address: r('addr'),
    status,
    state: stateOfStatus(status),
    // uweight is the weight as set; "weight" is the effective one (0 while draining on some versions).
    weight: r('uweight') !== '' ? num(r('uweight')) : num(r('weight')),
    current: num(r('scur')),
    total: num(r('stot')),
    requests: r('req_tot') !== '' ? num(r('req_tot')) : num(r('stot')),
    responses: responses(r),
    errors: { connect: num(r('econ')), response: num(r('eresp')), retried: num(r('wretr')), redispatched: num(r('wredis')) },
  };
}

function proxyStats(r: Row): ProxyStats {
  return {
    status: r('status'),
    current: num(r('scur')),
    total: num(r('stot')),
    requests: r('req_tot') !== '' ? num(r('req_tot')) : num(r('stot')),
    responses: responses(r),
    errors: { request: num(r('ereq')), connect: num(r('econ')), response: num(r('eresp')) },
    retries: num(r('wretr')),
    redispatches: num(r('wredis')),
  };
}

export function emptyProxyStats(): ProxyStats {
  return {
    status: '',
    current: 0,
    total: 0,
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
    errors: { request: 0, connect: 0, response: 0 },
    retries: 0,
    redispatches: 0,
  };
}

