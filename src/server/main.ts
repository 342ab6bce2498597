/**
 * `berth server`: opens the server's store (SQLite under its state directory, or
 * the PostgreSQL database of --store),
 * prints an admin token on the first start, resumes the rollouts a killed
 * server left, and serves the API. Anything but loopback needs TLS.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../access/tokens.js';
import { invalid, unavailable } from '../errors.js';
import { recoverInterrupted } from '../rollout/executor.js';
import { isLoopback } from '../remote/target.js';
import { openStore, openStoreAt, type Store, type StoreLocation, closeStore } from '../store/db.js';
import { latestConfig } from '../store/configs.js';
import { pruneEvents } from '../store/events.js';
import { makeStateDir, stateModeWarning } from '../store/state-modes.js';
import { openRollouts } from '../store/releases.js';
import { leaseOf } from '../store/leases.js';
import { holderAlive } from '../rollout/lease.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';
import { errorData } from './jobs.js';
import { startReconciler, type Reconciler } from '../reconcile/loop.js';
import { Leadership } from '../leader/leadership.js';
import { leaderTiming } from '../leader/term.js';
import { berthVersion } from '../leader/version.js';
import { thisProcess } from '../rollout/lease.js';
import { startHostWatch, type HostWatch } from '../fleet/host-watch.js';
import { failoverOnce, removeStale } from '../fleet/failover.js';
import { prepullReleases } from '../fleet/prepull.js';
import { settleRestartPolicies } from '../fleet/restart-policies.js';
import { startWardens, type WardenTarget } from './wardens.js';

export const DEFAULT_LISTEN = '127.0.0.1:7878';

export interface ServerOptions {
  listen: string;
  /** Between the reconciler's periodic passes (it also acts on engine events); 0: no reconciler, and no host watch nor failover. */
  reconcileIntervalMs?: number;
  stateDir: string;
  /** Where the store is when not the SQLite file under stateDir (a PostgreSQL database). */
  store?: StoreLocation;
  env: NodeJS.ProcessEnv;
  tls?: { cert: string; key: string };
  /** Folders applied configurations may read besides their own files (`--allow-read`; config/readable-files.ts). */
  allowRead?: readonly string[];
  say: (line: string) => void;
  /**
   * Where the hosts' wardens reach this server and what they trust; by default, with TLS on an address other
   * hosts can reach (not loopback, not 0.0.0.0 or ::), the listen URL and the server's certificate. Otherwise no
   * warden is placed: a warden that cannot reach the server stops every instance on its host.
   */
  warden?: WardenTarget;
  /** The server's log (JSON lines: internal errors with their stack and request id); default stderr. */
  log?: (line: string) => void;
  /** The URL the other servers of the store reach this one at (`--advertise`; default: its own URL). */
  advertise?: string;
  /** The leader lease (`--leader-ttl`, `--leader-renew`; leader/term.ts): default 10 s, renewed every third. */
  leaderTtlMs?: number;
  leaderRenewMs?: number;
  /** How often a server that shares a PostgreSQL store reads the events the others appended, besides when NOTIFY wakes it (1 s). */
  eventPollMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  core: ServerCore;
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string, tls: boolean): { host: string; port: number } {
  const match = /^(\[[0-9a-f:]+\]|[^:]+):(\d{1,5})$/i.exec(listen);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw invalid(`--listen "${listen}" is not ADDRESS:PORT`, { fix: `e.g. --listen ${DEFAULT_LISTEN}` });
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (!tls && !isLoopback(host)) throw invalid(`--listen ${listen} is reachable from other machines, and without TLS tokens would cross the network in clear`, { fix: 'give the server a certificate: --tls-cert cert.pem --tls-key key.pem, or listen on 127.0.0.1' });
  return { host, port };
}

function tlsFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw invalid(`${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { fix: `name a PEM file the server's user can read: ${flag} <file>` });
  }
}

/** Rollouts left running by a server that is gone (killed): resumed in the background, as any command would. */
async function resumeInterrupted(core: ServerCore, say: (line: string) => void): Promise<void> {
  if (!await latestConfig(core.db)) return;
  for (const r of await openRollouts(core.db)) {
    if (r.status !== 'running') continue;
    // A holder that still renews its lease (another process on the server's state) goes on by itself; one of an older leader does not.
    const lease = await leaseOf(core.db, r.service, r.environment);
    if (lease && lease.holder !== thisProcess.holder && holderAlive(lease, Date.now(), core.leaderFence())) continue;
    if (lease && lease.holder === thisProcess.holder && core.jobs.runsRollout(r.id)) continue;
    say(`resuming rollout #${r.id} (${r.kind} of ${r.service} in ${r.environment}), interrupted at step ${r.done}`);
    const refused = async (error: unknown) => {
      say(`rollout #${r.id} could not be resumed: ${(error as Error).message}`);
      // Whoever follows it learns it now, not never.
      await core.events.publish('rollout-failed', { error: { ...errorData(error), message: `rollout #${r.id} could not be resumed: ${errorData(error).message}` } }, r.id);
    };
    try {
      const run = await core.run('server');
      core.jobs.start('server', (options) => recoverInterrupted(run, r.service, r.environment, options).then((result) => result ?? Promise.reject(new Error(`rollout #${r.id} had nothing to resume`)))).catch(refused);
    } catch (error) {
      await refused(error);
    }
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(options.listen, options.tls !== undefined);
  const timing = leaderTiming(options.leaderTtlMs, options.leaderRenewMs);
  const https = options.tls ? { cert: tlsFile(options.tls.cert, '--tls-cert'), key: tlsFile(options.tls.key, '--tls-key') } : undefined;
  // Before the store is opened: a new state is made private, an existing one is only reported. The folder holds more
  // than the SQLite store (the audit head, applied bundles, keys), so it is made also when the store is PostgreSQL.
  try {
    makeStateDir(options.stateDir);
  } catch (error) {
    throw unavailable(`cannot make the server's state folder ${options.stateDir}: ${(error as Error).message}`, { fix: 'give --state a folder the server can create and write', cause: error });
  }
  const wide = stateModeWarning(options.stateDir);
  if (wide) options.say(`warning: ${wide.detail}; fix: ${wide.fix}`);
  const db: Store = options.store ? await openStoreAt(options.store) : await openStore(options.stateDir);
  const admin = await bootstrapAdmin(db);
  if (admin) options.say(`admin token: ${admin.token}`);
  const core = new ServerCore(options.stateDir, db, options.env, { allowRead: options.allowRead ?? [] });
  const log = options.log;
  const app = await buildApp(core, { ...(https ? { https } : {}), ...(log ? { log: { write: (line: string) => log(line.trimEnd()) } } : {}) });
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  if (options.store) await core.events.follow(options.eventPollMs !== undefined ? { pollMs: options.eventPollMs } : {});
  let reconciler: Reconciler | undefined;
  let hostWatch: HostWatch | undefined;
  const wardens = options.warden ?? (https && !isUnspecified(host) && !isLoopback(host) ? { server: url, ca: https.cert.toString('utf8') } : undefined);
  const stopping = new Set<Promise<void>>();
  const leadership = new Leadership({
    db,
    id: thisProcess.holder,
    address: options.advertise ?? url,
    version: berthVersion(),
    timing,
    // SQLite has one server: a lease left by a process of this machine that is gone is taken at once (a restart after kill -9).
    ...(options.store ? {} : { takeOverDeadLocal: { hostname: thisProcess.hostname } }),
    onLead: async (epoch) => {
      if (options.store) {
        options.say(`leading (epoch ${epoch})`);
        void core.events.publish('leader-elected', { server: options.advertise ?? url, epoch }).catch(() => {});
      }
      await resumeInterrupted(core, options.say);
      if (options.reconcileIntervalMs !== 0) reconciler = startServerReconciler(core, options.reconcileIntervalMs);
      // Watching hosts and failing them over is work: the leader's only, like the reconciler's.
      if (options.reconcileIntervalMs !== 0) hostWatch = startServerHostWatch(core, wardens);
    },
    onStepDown: (epoch, why) => {
      options.say(`stepped down (epoch ${epoch}): ${why}; rollouts and the reconciler stop here, the next leader resumes them`);
      for (const stopped of [reconciler?.stop(), hostWatch?.stop()]) {
        if (!stopped) continue;
        stopping.add(stopped);
        void stopped.finally(() => stopping.delete(stopped));
      }
      reconciler = undefined;
      hostWatch = undefined;
    },
  });
  core.leadership = leadership;
  core.leaderCa = https ? [https.cert, ...(options.env.BERTH_SERVER_CA ? [tlsFile(options.env.BERTH_SERVER_CA, 'BERTH_SERVER_CA')] : [])] : undefined;
  await leadership.start();
  const pruning = keepEventsFor(core, EVENTS_KEPT_MS);
  return {
    app,
    core,
    url,
    close: async () => {
      await leadership.stop();
      await reconciler?.stop();
      await hostWatch?.stop();
      await Promise.allSettled([...stopping]);
      await core.events.stopFollowing();
      clearInterval(pruning);
      // Event streams never end by themselves: closed here, or the close would wait for their clients (who resume with Last-Event-ID).
      core.events.closeStreams();
      await app.close();
      await closeStore(db);
    },
  };
}

/** 0.0.0.0 or ::: a listen address no host can use as the server's URL. */
function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** A week of events for a client to resume from; older ones go (the rollouts' journal and the audit log keep what they record). */
const EVENTS_KEPT_MS = 7 * 24 * 3600_000;

/** Prunes the event log now and every hour. */
function keepEventsFor(core: ServerCore, keptMs: number): NodeJS.Timeout {
  const prune = () => void pruneEvents(core.db, Date.now() - keptMs).catch(() => {
    // A busy or full store: the next hour tries again.
  });
  prune();
  const timer = setInterval(prune, 3600_000);
  timer.unref();
  return timer;
}

/** The reconciler on the applied configuration, its actions and drift on the event stream (as actor "reconciler"). */
function startServerReconciler(core: ServerCore, intervalMs?: number): Reconciler {
  return startReconciler(
    async () => {
      // A repair the audit log could not record is not made: the pass fails naming the file (reconcile-failed on the event stream).
      core.checkAuditHead();
      try {
        return await core.run('reconciler');
      } catch {
        return undefined; // nothing applied yet: nothing should run
      }
    },
    {
      ...(intervalMs !== undefined ? { intervalMs } : {}),
      emit: (event) => void core.events.publish(event.type, event).catch(() => {}),
      audit: async (entry) => void (await core.audit({ actor: 'reconciler', action: entry.action, target: entry.target, params: entry.params, outcome: entry.outcome })),
    },
  );
}

/**
 * The watch over every host (fleet/host-watch.ts) and the failover it drives: a host that comes back
 * has its stale containers removed before it counts as returning; after each round of pings, a
 * failover pass runs in the background (never two at once, and never holding up the pings: a
 * failover waits for health gates), and so does the pre-pull of the releases' images onto every
 * host that may run them (after the restart policies of instances made by an older Berth are set,
 * fleet/restart-policies.ts), and the warden pass (server/wardens.ts) when the wardens can reach the
 * server. Like the reconciler, this is the leader's work.
 */
function startServerHostWatch(core: ServerCore, wardenTarget: WardenTarget | undefined): HostWatch & { stop(): Promise<void> } {
  let failing: Promise<void> | undefined;
  let again = false;
  let pulling: Promise<void> | undefined;
  /** Release × host pulled already (prepull.ts): only a new release or host costs a pull. */
  const pulled = new Set<string>();
  /** Instances whose engine restart policy was looked at (fleet/restart-policies.ts). */
  const settled = new Set<string>();
  const prepull = (): void => {
    pulling ??= (async () => {
      const run = await core.run('prepull');
      for (const r of (await settleRestartPolicies(run, settled)).set) publish('restart-policy-set', r);
      for (const r of await prepullReleases(run, pulled)) if (r.error === undefined) publish('image-prepulled', r);
    })()
      .catch(() => {
        // A host that does not answer now is asked again after the next round.
      })
      .finally(() => {
        pulling = undefined;
      });
  };
  const publish = (type: string, data: object) => void core.events.publish(type, data).catch(() => {});
  const wardens = wardenTarget ? startWardens(core, wardenTarget, publish) : undefined;
  const audit = async (actor: string, entry: { action: string; target: string; outcome: 'succeeded' | 'failed'; params: Record<string, unknown> }) =>
    void (await core.audit({ actor, action: entry.action, target: entry.target, params: entry.params, outcome: entry.outcome }));
  const failover = (): void => {
    if (failing) {
      again = true;
      return;
    }
    failing = (async () => {
      const run = await core.run('failover');
      await failoverOnce(run, { emit: (event) => publish(event.type, event), audit: (entry) => audit('failover', entry) });
    })()
      .catch((error: unknown) => publish('failover-failed', { message: (error as Error).message }))
      .finally(() => {
        failing = undefined;
        if (again) {
          again = false;
          failover();
        }
      });
  };
  const watch = startHostWatch(
    async () => {
      try {
        return await core.run('host-watch');
      } catch {
        return undefined; // nothing applied yet: no hosts to watch
      }
    },
    {
      emit: (event) => publish(event.type, event),
      audit: (entry) => audit('host-watch', entry),
      onChange: async (run, host, change) => {
        if (change.from !== 'down' || change.to !== 'returning') return;
        const removed = await removeStale(run, host);
        if (removed.length > 0) publish('host-stale-removed', { host, containers: removed });
      },
      afterTick: async () => {
        failover();
        prepull();
        wardens?.kick();
      },
      onError: (error) => publish('host-watch-failed', { message: (error as Error).message }),
    },
  );
  return {
    tick: () => watch.tick(),
    async stop() {
      await watch.stop();
      await Promise.allSettled([failing, pulling, wardens?.stop()]);
    },
  };
}
