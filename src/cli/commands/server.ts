/** berth server [--listen ADDR:PORT] [--state DIR] [--store postgres://…] [--tls-cert F --tls-key F] [--allow-read DIR]: the control plane (server/main.ts). */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { invalid } from '../../errors.js';
import { describeLocation, storeLocation } from '../../store/location.js';
import type { Command, CommandContext } from '../command.js';
import { durationFlag } from '../flags.js';
import { closeStore, openStoreAt } from '../../store/db.js';
import { serverStatus, type ServerStatus } from '../../leader/status.js';
import { printJson, table } from '../output.js';
import { remoteOr } from '../remote.js';

const reconcileInterval = (value: unknown): number => (String(value).trim() === '0' ? 0 : durationFlag(value, '--reconcile-interval')!);

const USAGE = 'berth server [--listen 127.0.0.1:7878] [--state DIR] [--store postgres://USER@HOST:PORT/DB [--store-password-file FILE]] [--tls-cert cert.pem --tls-key key.pem] [--allow-read DIR]... [--reconcile-interval 10s (0s: off)] [--advertise URL] [--leader-ttl 10s] [--leader-renew 3.3s] | berth server status [--json]';

/** --allow-read DIR (repeatable): folders that exist, absolute. */
function allowedFolders(value: unknown, cwd: string): string[] {
  const dirs = (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((d) => resolve(cwd, String(d)));
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw invalid(`--allow-read ${dir}: no such folder`, { fix: 'name a folder that exists (configurations may then read the files under it)' });
  }
  return dirs;
}

/** --advertise: the http(s) URL the other servers reach this one at. */
function advertiseFlag(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '')) {
    throw invalid(`--advertise "${text}" is not the http(s) URL of this server`, { fix: 'e.g. --advertise https://berth-1.example.net:7878 (how the other servers reach this one)' });
  }
  return url.origin;
}

export const serverCommand: Command = {
  name: 'server',
  summary: 'runs the Berth server: one store, API under /v1, rollouts run in it; the first start prints an admin token',
  usage: USAGE,
  options: {
    listen: { type: 'string' },
    state: { type: 'string' },
    store: { type: 'string' },
    'store-password-file': { type: 'string' },
    'reconcile-interval': { type: 'string' },
    advertise: { type: 'string' },
    'leader-ttl': { type: 'string' },
    'leader-renew': { type: 'string' },
    json: { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'allow-read': { type: 'string', multiple: true },
  },
  run: async (context) => {
    const { flags, output, env, cwd } = context;
    if (context.positionals[0] === 'status') return await statusCommand(context);
    if (context.positionals.length > 0) throw invalid(`berth server ${context.positionals[0]}: no such command`, { fix: `usage: ${USAGE}` });
    const cert = flags['tls-cert'];
    const key = flags['tls-key'];
    if ((typeof cert === 'string') !== (typeof key === 'string')) throw invalid('--tls-cert and --tls-key go together', { fix: `usage: ${USAGE}` });
    const passwordFile = typeof flags['store-password-file'] === 'string' ? resolve(cwd, flags['store-password-file']) : undefined;
    if (passwordFile !== undefined && typeof flags.store !== 'string') throw invalid('--store-password-file is the password of a PostgreSQL store: give --store postgres://… with it', { fix: `usage: ${USAGE}` });
    // Checked before the server loads: a mistyped URL is named at once, without its password.
    const store = typeof flags.store === 'string' ? storeLocation(flags.store, passwordFile !== undefined ? { passwordFile } : {}) : undefined;
    if (store && store.kind !== 'postgres') throw invalid(`--store "${flags.store}" is not a postgres:// URL`, { fix: 'leave --store out for the embedded store (SQLite under --state), or give postgres://USER@HOST:PORT/DATABASE' });
    // Loaded only here: the other commands never pay for the HTTP framework.
    const { startServer, DEFAULT_LISTEN } = await import('../../server/main.js');
    const stateDir = resolve(cwd, typeof flags.state === 'string' ? flags.state : (env.BERTH_STATE_DIR ?? '/var/lib/berth'));
    const server = await startServer({
      listen: typeof flags.listen === 'string' ? flags.listen : DEFAULT_LISTEN,
      ...(flags['reconcile-interval'] !== undefined ? { reconcileIntervalMs: reconcileInterval(flags['reconcile-interval']) } : {}),
      stateDir,
      ...(store ? { store } : {}),
      env,
      ...(typeof cert === 'string' && typeof key === 'string' ? { tls: { cert: resolve(cwd, cert), key: resolve(cwd, key) } } : {}),
      allowRead: allowedFolders(flags['allow-read'], cwd),
      ...(typeof flags.advertise === 'string' ? { advertise: advertiseFlag(flags.advertise) } : {}),
      ...(flags['leader-ttl'] !== undefined ? { leaderTtlMs: durationFlag(flags['leader-ttl'], '--leader-ttl')! } : {}),
      ...(flags['leader-renew'] !== undefined ? { leaderRenewMs: durationFlag(flags['leader-renew'], '--leader-renew')! } : {}),
      say: (line) => output.out(line),
      log: (line) => output.err(line),
    });
    output.out(`berth server listening on ${server.url} (state ${stateDir}${store ? `, store ${describeLocation(store)}` : ''})`);
    await new Promise<void>((done) => {
      const stop = (signal: NodeJS.Signals) => {
        output.out(`berth server: ${signal}: stopping; rollouts in progress resume when it starts again`);
        server.close().finally(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};

/** berth server status [--json]: through the server (BERTH_SERVER), or from the store itself (--store, or --state / BERTH_STATE_DIR). */
async function statusCommand(context: CommandContext): Promise<number> {
  const { flags, env, cwd, output } = context;
  const status = await remoteOr(
    context,
    (client) => client.get<ServerStatus>('/v1/server/status'),
    async () => {
      const passwordFile = typeof flags['store-password-file'] === 'string' ? resolve(cwd, flags['store-password-file']) : undefined;
      const at = typeof flags.store === 'string' ? flags.store : resolve(cwd, typeof flags.state === 'string' ? flags.state : (env.BERTH_STATE_DIR ?? '/var/lib/berth'));
      const db = await openStoreAt(at, passwordFile !== undefined ? { passwordFile } : {});
      try {
        return await serverStatus(db, 'berth server status (read from the store)');
      } finally {
        await closeStore(db);
      }
    },
  );
  if (flags.json) printJson(output, status);
  else for (const line of serverStatusLines(status)) output.out(line);
  return 0;
}

export function serverStatusLines(status: ServerStatus): string[] {
  const lines = [`store: ${status.store.kind} ${status.store.where}, schema version ${status.store.schemaVersion}`];
  const l = status.leader;
  if (!l) lines.push('leader: none yet');
  else if (l.expired) lines.push(`leader: none now (the lease of ${l.address}, epoch ${l.epoch}, ran out at ${l.expiresAt}; the next server to look takes it over)`);
  else lines.push(`leader: ${l.address} since ${l.since}, epoch ${l.epoch}, lease until ${l.expiresAt}`);
  if (status.servers.length === 0) lines.push('servers: none seen in the last minute');
  else lines.push(table([['ADDRESS', 'ROLE', 'VERSION', 'STARTED', 'LAST HEARTBEAT', ''], ...status.servers.map((s) => [s.address, s.leads ? 'leader' : 'follower', s.version, s.startedAt, s.heartbeatAt, s.self ? '(answered)' : ''])]));
  return lines;
}
