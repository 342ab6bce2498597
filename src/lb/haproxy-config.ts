/**
 * The HAProxy configuration of a front door, as text (pure). Berth changes a
 * running front door through the runtime API; this file is rewritten with
 * every change so that a restarted HAProxy comes back with the servers and
 * weights of the moment.
 */
import { join } from 'node:path';
import { invalid } from '../errors.js';
import type { FrontDoorSpec, LbServer } from './model.js';

export interface FrontDoorFiles {
  config: string;
  pid: string;
  log: string;
  socket: string;
}

export function frontDoorFiles(dir: string): FrontDoorFiles {
  return { config: join(dir, 'haproxy.cfg'), pid: join(dir, 'haproxy.pid'), log: join(dir, 'haproxy.log'), socket: join(dir, 'admin.sock') };
}

/** The backend every front door's servers are in (the runtime API names servers be/<name>). */
export const BACKEND = 'be';

/** A unix socket path has at most 107 bytes (sun_path, with its terminating NUL). */
const MAX_SOCKET_PATH = 107;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** What HAProxy accepts in proxy and server names. */
const SERVER_NAME = /^[A-Za-z0-9._:-]+$/;
const ADDRESS = /^[0-9A-Za-z.:%-]+$/;
/** A line of haproxy.cfg ends at a newline; no quoting can carry one (or any other control character). */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The methods whose requests may be sent again after they reached a server
 * (RFC 9110 9.2.2: idempotent). Any other request is retried only when its
 * connection failed, before the server saw it.
 */
export const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] as const;

/** address:port, with brackets around an IPv6 address. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The address and port of HAProxy's "ip:port" (IPv6 in brackets or not); port 0 when there is none. */
export function splitHostPort(text: string): { address: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = colon < 0 ? NaN : Number(text.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || text.slice(colon + 1) === '') return { address: text.replace(/^\[(.*)\]$/, '$1'), port: 0 };
  return { address: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

/** Every problem of a spec, as messages (empty when it is valid). */
export function specProblems(spec: FrontDoorSpec): string[] {
  const problems: string[] = [];
  if (!ID.test(spec.id)) problems.push(`front door id "${spec.id}": use letters, digits, '.', '_' and '-' (it names files)`);
  if (!ADDRESS.test(spec.bind.address)) problems.push(`front door ${spec.id}: "${spec.bind.address}" is not an address to listen on`);
  if (!validPort(spec.bind.port)) problems.push(`front door ${spec.id}: port ${spec.bind.port} is not between 1 and 65535`);
  if (CONTROL.test(spec.dir)) problems.push(`front door ${spec.id}: its folder ${JSON.stringify(spec.dir)} has a newline or another control character`);
  const socket = frontDoorFiles(spec.dir).socket;
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    problems.push(`front door ${spec.id}: its admin socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes, the limit of a unix socket`);
  }
  const seen = new Set<string>();
  for (const server of spec.servers) problems.push(...serverProblems(spec.id, server, seen));
  return problems;
}

function serverProblems(id: string, s: LbServer, seen: Set<string>): string[] {
  const problems: string[] = [];
  const where = `front door ${id}, server ${s.name}`;
  if (!SERVER_NAME.test(s.name)) problems.push(`front door ${id}: server name "${s.name}" may only have letters, digits, '.', '_', '-' and ':'`);
  if (seen.has(s.name)) problems.push(`${where}: the name is used twice`);
  seen.add(s.name);
  if (!ADDRESS.test(s.address)) problems.push(`${where}: "${s.address}" is not an address`);
  if (!validPort(s.port)) problems.push(`${where}: port ${s.port} is not between 1 and 65535`);
  if (!Number.isInteger(s.weight) || s.weight < 0 || s.weight > 256) problems.push(`${where}: weight ${s.weight} is not a whole number from 0 to 256`);
  if (!['ready', 'drain', 'maint'].includes(s.state)) problems.push(`${where}: state "${String(s.state)}" is not ready, drain or maint`);
  return problems;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function assertValidSpec(spec: FrontDoorSpec): void {
  const problems = specProblems(spec);
  if (problems.length > 0) {
    throw invalid(problems[0]!, { lines: problems.slice(1), fix: 'correct the front door settings (this is a bug in Berth if they came from berth.yaml)' });
  }
}

/**
 * One server line. HAProxy 2.6 has no server keyword for the drain state (it
 * is runtime-only), so a draining server is written with weight 0, which has
 * the same effect (no new requests, open ones go on); Berth sets the drain
 * state through the runtime API once HAProxy runs. A server in maintenance is
 * written "disabled".
 */
export function serverLine(s: LbServer): string {
  const weight = s.state === 'drain' ? 0 : s.weight;
  return `server ${s.name} ${hostPort(s.address, s.port)} weight ${weight}${s.state === 'maint' ? ' disabled' : ''}`;
}

/**
 * A word of haproxy.cfg that HAProxy reads back as exactly `text`: in single
 * quotes, where nothing is special (no spaces splitting it, no '#', no
 * environment variables); a single quote itself is written as '\''.
 */
export function configWord(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The whole haproxy.cfg of a front door. Throws `invalid` for a bad spec. */
export function haproxyConfig(spec: FrontDoorSpec): string {
  assertValidSpec(spec);
  const files = frontDoorFiles(spec.dir);
  const lines = [
    `# Generated by Berth for front door ${spec.id}; rewritten on every change, do not edit.`,
    `# Berth changes the running HAProxy through ${files.socket} and never reloads it.`,
    'global',
    // Berth runs HAProxy in the foreground and writes the pid file itself (HAProxy
    // writes "pidfile" only in daemon or master-worker mode).
    `  stats socket ${configWord(files.socket)} mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    // stdout goes to haproxy.log; only errors and abnormal requests are logged (dontlog-normal).
    '  log stdout format raw local0',
    // Without SO_REUSEPORT a second process can never silently share the port.
    '  noreuseport',
    '  hard-stop-after 30s',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option dontlog-normal',
    '  option forwardfor',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    '  timeout queue 10s',
    // A request whose server went away (connection refused, closed without an
    // answer, no answer in time) is sent again, to another server: what keeps
    // a rolling update free of failed requests. HAProxy applies retry-on to
    // every method (haproxy#412), so the backend limits it (see below).
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    '',
    'frontend fe',
    `  bind ${hostPort(spec.bind.address, spec.bind.port)}`,
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    // roundrobin is a dynamic algorithm: weights change at run time and
    // "add server" works (HAProxy 2.6 needs no server-template slots for it).
    '  balance roundrobin',
    // A request that reached a server (closed without an answer, or no answer in
    // time) may have been processed: only an idempotent one is sent again. A
    // failed connection is still retried for every method (disable-l7-retry
    // leaves conn-failure alone).
    `  acl idempotent method ${IDEMPOTENT_METHODS.join(' ')}`,
    '  http-request disable-l7-retry unless idempotent',
    ...spec.servers.map((s) => `  ${serverLine(s)}`),
    '',
  ];
  return lines.join('\n');
}

/** The address:port of the "bind" line of a config Berth wrote, if any. */
export function configBind(text: string): string | undefined {
  return /^\s*bind\s+(\S+)/m.exec(text)?.[1];
}
