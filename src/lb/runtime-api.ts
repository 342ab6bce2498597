/**
 * HAProxy's runtime API: commands sent by a transport (an exec in the door's
 * container, which alone reaches the admin socket), several in one exec. Changes
 * servers, weights and states of a running front door without a reload, and
 * reads its counters ("show stat").
 */
import { conflict, failed, notFound } from '../errors.js';
import { sleep } from '../time.js';
import { BACKEND, splitHostPort } from './haproxy-config.js';
import { changeCommands, deleteRefusedForNow, removalCommands, stateCommand, type RuntimeCommand } from './runtime-batch.js';
import type { ServerChange } from './sync-plan.js';
import type { LbServer, ProxyStats, ResponseCounts, ServerState, ServerStats, StatsSnapshot } from './model.js';

/**
 * Sends commands to HAProxy, in order, and resolves with each one's whole answer; unavailable when
 * HAProxy cannot be reached. All of them go in one round trip (runtime-batch.ts).
 */
export type RuntimeTransport = (commands: readonly string[]) => Promise<string[]>;

/** How often a removal or a drain looks whether requests are still in flight: each look is an exec through the engine. */
export const DRAIN_POLL_MS = 500;

export class HaproxyRuntime {
  constructor(readonly send: RuntimeTransport) {}

  /** One command; its answer as HAProxy gave it. */
  async command(text: string): Promise<string> {
    return (await this.send([text]))[0] ?? '';
  }

  /** Sends the commands in one batch; the first answer that is not a success is the error (the others have run). */
  async run(commands: readonly RuntimeCommand[]): Promise<string[]> {
    if (commands.length === 0) return [];
    const answers = (await this.send(commands.map((c) => c.text))).map((a) => a.trim());
    const refused = commands.findIndex((c, i) => !c.ok(answers[i] ?? ''));
    if (refused >= 0) throw commandError(commands[refused]!.text, answers[refused] ?? '');
    return answers;
  }

  /** Adds a server (and sets its state: HAProxy 2.6 starts a dynamic server in maintenance). */
  async addServer(server: LbServer): Promise<void> {
    await this.run(changeCommands({ op: 'add', server }));
  }

  async setWeight(name: string, weight: number): Promise<void> {
    await this.run(changeCommands({ op: 'weight', name, weight }));
  }

  async setState(name: string, state: ServerState): Promise<void> {
    await this.run([stateCommand(name, state)]);
  }

  async setAddress(name: string, address: string, port: number): Promise<void> {
    await this.run(changeCommands({ op: 'address', name, address, port }));
  }

  /**
   * Makes the planned changes: one batch for every add, address, weight and state, with each
   * server to remove put in maintenance (no new requests); then waits up to `removeTimeoutMs`
   * for the removed servers' requests in flight, cuts those still open and deletes them (a
   * second batch). Returns the servers whose requests had to be cut.
   */
  async apply(changes: readonly ServerChange[], removeTimeoutMs = 10_000): Promise<string[]> {
    const commands = changes.map(changeCommands);
    const answers = await this.run(commands.flat());
    // A server HAProxy no longer has counts as removed.
    let at = 0;
    const removes: string[] = [];
    changes.forEach((change, i) => {
      const first = answers[at] ?? '';
      at += commands[i]!.length;
      if (change.op === 'remove' && !/^No such server/i.test(first)) removes.push(change.name);
    });
    if (removes.length === 0) return [];
    const busy = await this.waitAllDrained(removes, removeTimeoutMs);
    await this.deleteServers(removes, busy);
    return removes.filter((name) => busy.has(name));
  }

  /**
   * Takes a server out for good: maintenance, then waits up to `timeoutMs` for its requests in
   * flight, cuts those still open, and deletes it. False when requests had to be cut. A server
   * that is not there counts as removed.
   */
  async removeServer(name: string, timeoutMs = 10_000): Promise<boolean> {
    return (await this.apply([{ op: 'remove', name }], timeoutMs)).length === 0;
  }

  /** Waits until the server has no request in flight; false when `timeoutMs` passed first. A missing server is drained. */
  async waitDrained(name: string, timeoutMs: number): Promise<boolean> {
    return (await this.waitAllDrained([name], timeoutMs)).size === 0;
  }

  /** Waits until none of the servers has a request in flight (one read per look for all); the ones still busy when `timeoutMs` passed. */
  async waitAllDrained(names: readonly string[], timeoutMs: number): Promise<Set<string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      const busy = new Set(names.filter((name) => (stats.find((s) => s.name === name)?.current ?? 0) > 0));
      if (busy.size === 0 || Date.now() >= deadline) return busy;
      await sleep(Math.min(DRAIN_POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }

  /** Cuts the busy ones' requests and deletes every one; a delete refused while connections close is tried again for 3 s. */
  private async deleteServers(names: readonly string[], busy: ReadonlySet<string>): Promise<void> {
    const deadline = Date.now() + 3000;
    let commands = removalCommands(names, busy);
    for (;;) {
      const answers = (await this.send(commands.map((c) => c.text))).map((a) => a.trim());
      const again = commands.filter((c, i) => !c.ok(answers[i]!) && deleteRefusedForNow(answers[i]!) && Date.now() <= deadline);
      const refused = commands.findIndex((c, i) => !c.ok(answers[i]!) && !again.includes(c));
      if (refused >= 0) throw commandError(commands[refused]!.text, answers[refused]!);
      if (again.length === 0) return;
      commands = again;
      await sleep(50);
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

