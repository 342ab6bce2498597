/**
 * One rollout per service × environment, under a lease in the store. The
 * holder renews it while it works; a holder that stops renewing (killed, its
 * machine gone, stalled) loses it once it expires, and the next command takes
 * it over with a higher fencing token and resumes the interrupted rollout.
 * Every write of the rollout carries the token, so the old holder, should it
 * wake up, cannot write any more.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { conflict, invalid } from '../errors.js';
import { isAlive } from '../processes.js';
import { sleep } from '../time.js';
import { isStoreClosed, type Store } from '../store/db.js';
import { dropLease, leaseOf, lostLease, renewLease, requireFence, takeOverLease, tryLease, type Claim, type Fence, type LeaderFence, type Lease } from '../store/leases.js';
import type { RunContext } from '../runtime/context.js';
import { rolloutById, type Rollout } from '../store/releases.js';

export const DEFAULT_LEASE_TTL_MS = 30_000;

export type Holder = Pick<Lease, 'holder' | 'pid' | 'hostname'>;

export interface LeaseSettings {
  ttlMs: number;
  /** The clock leases are read and written with (a test's own). */
  now: () => number;
  /** Who takes the lease: this process, unless a test plays another one. */
  as?: Holder;
  /** In a leading server: its leadership, which every write under the lease also carries (store/leader.ts). */
  leader?: LeaderFence;
}

/** The TTL from `BERTH_LEASE_TTL_MS` (default 30 s) and the wall clock. */
export function leaseSettings(env: NodeJS.ProcessEnv): LeaseSettings {
  const text = env.BERTH_LEASE_TTL_MS;
  if (text === undefined || text === '') return { ttlMs: DEFAULT_LEASE_TTL_MS, now: Date.now };
  const ttlMs = Number(text);
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw invalid(`BERTH_LEASE_TTL_MS must be a whole number of milliseconds (1 or more), got "${text}"`, { fix: `unset it for the default (${DEFAULT_LEASE_TTL_MS}), or e.g. BERTH_LEASE_TTL_MS=${DEFAULT_LEASE_TTL_MS}` });
  return { ttlMs, now: Date.now };
}

/** The settings of a rollout run with `run`: from its environment, and its server's leadership if it has one. */
export function leaseSettingsFor(run: Pick<RunContext, 'env' | 'leader'>): LeaseSettings {
  const settings = leaseSettings(run.env);
  return run.leader ? { ...settings, leader: run.leader } : settings;
}

/** This process as a lease holder: the random part tells it from an earlier process that had the same pid. */
export const thisProcess: Holder = { holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`, pid: process.pid, hostname: hostname() } as const;

/** The leases this process holds and renews now, by service × environment: their tokens. */
const renewing = new Map<string, number>();
const keyOf = (service: string, environment: string) => `${service}\u0000${environment}`;

/**
 * Whether the lease's holder still holds it: not once it expired; a holder on
 * this machine whose process is gone, or this process not renewing it any more, at once.
 */
export function holderAlive(lease: Lease, now = Date.now(), leader?: LeaderFence): boolean {
  if (now >= lease.expiresAt) return false;
  // Taken under an older leader's epoch: that server no longer leads, and every write of it is refused.
  if (leader && lease.epoch < leader.epoch) return false;
  if (lease.holder === thisProcess.holder) return renewing.get(keyOf(lease.service, lease.environment)) === lease.token;
  // Same machine and pid but another holder: an earlier process that had this pid (PID 1 of a restarted container) is gone.
  if (lease.hostname === thisProcess.hostname && lease.pid === thisProcess.pid) return false;
  if (lease.hostname === thisProcess.hostname) return isAlive(lease.pid);
  return true;
}

export function describeHolder(lease: Pick<Lease, 'rollout' | 'pid' | 'hostname' | 'acquiredAt'>, rollout: Rollout | undefined): string {
  // Until its plan is recorded, the lease names no rollout (0): the holder is still checking and planning.
  const what = rollout
    ? `rollout #${rollout.id} (${rollout.kind} of release ${rollout.release}, by ${rollout.actor}, started ${new Date(rollout.startedAt).toISOString()})`
    : lease.rollout === 0
      ? `a rollout being planned since ${new Date(lease.acquiredAt).toISOString()} (not recorded yet)`
      : `rollout #${lease.rollout}`;
  return `${what}, berth process ${lease.pid} on ${lease.hostname}`;
}

/**
 * A lease this process holds: renewed every TTL/3 until it is stopped or
 * released. Its token is the fence every write of the rollout carries.
 */
export class HeldLease implements Fence {
  readonly service: string;
  readonly environment: string;
  readonly token: number;
  readonly holder: string;
  readonly leader: LeaderFence | undefined;
  /** The lease as another holder took it, once a renewal found it gone. */
  #lost: Lease | 'released' | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #db: Store;
  readonly #settings: LeaseSettings;

  constructor(db: Store, lease: Lease, settings: LeaseSettings) {
    this.service = lease.service;
    this.environment = lease.environment;
    this.token = lease.token;
    this.holder = lease.holder;
    this.leader = settings.leader;
    this.#db = db;
    this.#settings = settings;
    renewing.set(keyOf(this.service, this.environment), this.token);
    this.#timer = setInterval(() => void this.renew().catch(() => {}), Math.max(1, Math.floor(settings.ttlMs / 3)));
    this.#timer.unref();
  }

  /** Extends the lease; false (and renewing stops) once another process holds it. */
  async renew(): Promise<boolean> {
    if (this.#lost) return false;
    // A server that stopped leading lets the lease run out: the new leader takes it over at once anyway (a newer epoch).
    if (this.leader && !this.leader.acting()) return false;
    try {
      if (await renewLease(this.#db, this, this.#settings.ttlMs, this.#settings.now())) return true;
    } catch {
      // A busy or closed store: the next renewal tries again (or, closed, the process is ending).
      if (isStoreClosed(this.#db)) this.stop();
      return !this.#lost;
    }
    this.stop();
    this.#lost = (await leaseOf(this.#db, this.service, this.environment).catch(() => undefined)) ?? 'released';
    return false;
  }

  /** Throws the `conflict` of a lost lease once another process holds it (checked before the rollout changes any instance). */
  async ensureHeld(rollout: number): Promise<void> {
    if (this.#lost) throw await lostLease(this.#db, this, rollout);
    await requireFence(this.#db, this, rollout);
  }

  /** Stops renewing and leaves the lease in the store: the rollout it names is interrupted (or an open canary). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const key = keyOf(this.service, this.environment);
    if (renewing.get(key) === this.token) renewing.delete(key);
  }

  /** Stops renewing and gives the lease up (one taken over since stays its new holder's). */
  async release(): Promise<void> {
    this.stop();
    await dropLease(this.#db, this);
  }
}

export interface LeaseOutcome {
  lease: HeldLease;
  /** The rollout a holder that is gone left running: resume it first (the lease names it). */
  interrupted?: Rollout;
}

/**
 * Takes the lease of the service × environment for `claim`: at once when free;
 * when held, `refuse` throws if it must stay with its holder, else returns the
 * rollout the taken-over lease names, and it is taken over with a new token.
 */
async function claimLease(db: Store, claim: Claim, settings: LeaseSettings, refuse: (held: Lease, now: number) => Promise<number>): Promise<HeldLease> {
  for (let attempt = 0; ; attempt++) {
    const now = settings.now();
    const tried = await tryLease(db, claim, settings.ttlMs, now);
    if ('taken' in tried) return new HeldLease(db, tried.taken, settings);
    const rollout = await refuse(tried.held, now);
    const taken = await takeOverLease(db, tried.held, { ...claim, rollout }, settings.ttlMs, now);
    if (taken) return new HeldLease(db, taken, settings);
    // Another process took it over (or released it) between the read and the update: look again.
    if (attempt >= 2) throw conflict(`the lease of ${claim.service} in ${claim.environment} keeps changing holder`, { fix: 'run the command again' });
  }
}

/**
 * Takes the lease for `rollout`. A live holder is a conflict naming it; a gone
 * holder's rollout is handed back to be resumed first (the lease is taken over).
 */
export async function acquire(db: Store, service: string, environment: string, rollout: number, settings: LeaseSettings = leaseSettings(process.env), wait?: RepairWait): Promise<LeaseOutcome> {
  if (!wait) return await acquireOnce(db, service, environment, rollout, settings);
  const started = settings.now();
  let said = false;
  for (;;) {
    try {
      return await acquireOnce(db, service, environment, rollout, settings, (held, holder, now) => {
        if (now >= started + waitMs(held, holder, wait.forMs) || wait.signal?.aborted) return false;
        if (holder && !said) {
          said = true;
          wait.onWait?.(`waiting for the reconciler's repair of ${service} in ${environment} (rollout #${holder.id}) to finish`);
        }
        return true;
      });
    } catch (error) {
      if (error !== BUSY) throw error;
      await sleep(wait.pollMs ?? 250);
    }
  }
}

/** How long a command waits for the lease's holder instead of refusing at once. */
export interface RepairWait {
  /** How long, from the first look, to wait at most (by the lease clock). */
  forMs: number;
  /** Told once what it waits for. */
  onWait?: (text: string) => void;
  signal?: AbortSignal;
  pollMs?: number;
}

/** A holder still planning names its rollout within seconds (or lets go); one that does not is refused like any other. */
const PLANNING_WAIT_MS = 10_000;
const BUSY = Symbol('busy');

/**
 * A repair by the reconciler is not somebody else's command: it only brings back
 * what the release says runs, so a command waits for it (until its own deadline)
 * rather than fail because an engine restarted a moment earlier. A holder that
 * names no rollout yet is waited for briefly, so that it turns into one of the two.
 */
function waitMs(held: Lease, holder: Rollout | undefined, forMs: number): number {
  if (isRepair(holder)) return forMs;
  if (held.rollout === 0) return Math.min(forMs, PLANNING_WAIT_MS);
  return 0;
}

const isRepair = (rollout: Rollout | undefined): boolean => rollout?.kind === 'reconcile' && rollout.status === 'running';

async function acquireOnce(db: Store, service: string, environment: string, rollout: number, settings: LeaseSettings, waitFor?: (held: Lease, holder: Rollout | undefined, now: number) => boolean): Promise<LeaseOutcome> {
  let interrupted: Rollout | undefined;
  const lease = await claimLease(db, { service, environment, rollout, ...(settings.as ?? thisProcess), ...epochOf(settings) }, settings, async (held, now) => {
    const holder = held.rollout > 0 ? await rolloutById(db, held.rollout) : undefined;
    if (holder?.status === 'canary') {
      throw conflict(`a canary of ${service} (release ${holder.release}) is open in ${environment}`, {
        fix: `decide it first: berth canary promote ${service} --env ${environment}, or berth canary abort ${service} --env ${environment}`,
      });
    }
    if (holderAlive(held, now, settings.leader)) {
      if (waitFor?.(held, holder, now)) throw BUSY;
      throw conflict(`a rollout of ${service} in ${environment} is in progress: ${describeHolder(held, holder)}`, {
        // The reconciler runs in the server: stopping "that process" would stop the server.
        fix: isRepair(holder)
          ? `the reconciler is repairing it (berth status shows what it fixes): run the command again once it ends, or give it longer with --timeout`
          : `wait for it to finish (berth rollout ls shows it); if that process is stuck, stop it and run the command again: the rollout resumes${holder ? ` (or end it: berth rollout abandon ${holder.id})` : ''}`,
      });
    }
    interrupted = holder && holder.status === 'running' ? holder : undefined;
    // The lease keeps naming the interrupted rollout: if this process dies too before resuming it, the next one still finds it.
    return interrupted ? interrupted.id : rollout;
  });
  return interrupted ? { lease, interrupted } : { lease };
}

/**
 * The lease of an open canary for its decision (promote or abort): the canary's
 * status is what holds the service, so whoever decides takes the lease over.
 */
export async function acquireForDecision(db: Store, canary: Rollout, settings: LeaseSettings = leaseSettings(process.env)): Promise<HeldLease> {
  return await claimLease(db, { service: canary.service, environment: canary.environment, rollout: canary.id, ...(settings.as ?? thisProcess), ...epochOf(settings) }, settings, async () => canary.id);
}

/** The lease of an interrupted rollout, to abandon it: refused while its holder is alive, or when the lease names another rollout. */
export async function acquireToAbandon(db: Store, record: Rollout, settings: LeaseSettings = leaseSettings(process.env)): Promise<HeldLease> {
  return await claimLease(db, { service: record.service, environment: record.environment, rollout: record.id, ...(settings.as ?? thisProcess), ...epochOf(settings) }, settings, async (held, now) => {
    if (holderAlive(held, now, settings.leader)) {
      throw conflict(`rollout #${record.id} of ${record.service} in ${record.environment} is not interrupted: berth process ${held.pid} on ${held.hostname} still runs it`, {
        fix: `let it finish; if it is stuck, stop that process (kill ${held.pid}${held.hostname === thisProcess.hostname ? '' : ` on ${held.hostname}`}) and abandon the rollout then`,
      });
    }
    if (held.rollout !== 0 && held.rollout !== record.id) {
      throw conflict(`the lease of ${record.service} in ${record.environment} belongs to rollout #${held.rollout}, not #${record.id}`, {
        fix: `abandon or resume that one first: berth rollout abandon ${held.rollout}`,
      });
    }
    return record.id;
  });
}

const epochOf = (settings: LeaseSettings): { epoch?: number } => (settings.leader ? { epoch: settings.leader.epoch } : {});
