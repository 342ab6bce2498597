/**
 * A server's part in the leader lease (store/leader.ts), run on a timer by the pure term (term.ts):
 * it claims the lease while it follows, renews it while it leads, and steps down when it could
 * not renew in time, before any other server can take over. Its heartbeat in the servers' register
 * goes with each look. `fence()` is what the rollouts of one term carry: it stops acting when
 * the term ends, also if the same server leads again later (under a new epoch).
 */
import { performance } from 'node:perf_hooks';
import { isAlive } from '../processes.js';
import type { Store } from '../store/db.js';
import { claimLeadership, heartbeatServer, renewLeadership, resignLeadership, type Leader } from '../store/leader.js';
import type { LeaderFence } from '../store/leases.js';
import { acting, afterClaim, afterRenew, afterStepDown, nextAction, type LeaderState, type LeaderTiming } from './term.js';

export interface LeadershipOptions {
  db: Store;
  /** This server: unique per process (hostname:pid:random, as rollout/lease.ts's thisProcess). */
  id: string;
  /** The URL the other servers reach it at. */
  address: string;
  version: string;
  timing: LeaderTiming;
  /** One server only (SQLite): a lease whose holder was a process of this machine that is gone is taken at once. */
  takeOverDeadLocal?: { hostname: string };
  /** Awaited before the next renewal: what a new term starts (resume rollouts, the reconciler). */
  onLead: (epoch: number) => void | Promise<void>;
  onStepDown: (epoch: number, why: string) => void;
  /** The monotonic clock the term is counted on (a test's own). */
  clock?: () => number;
}

export class Leadership {
  #state: LeaderState = { role: 'follower' };
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  readonly #options: LeadershipOptions;
  readonly #clock: () => number;
  /** Why the last step-down happened (for status): undefined while leading or never led. */
  lastError: string | undefined;

  constructor(options: LeadershipOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => performance.now());
  }

  get id(): string {
    return this.#options.id;
  }

  get timing(): LeaderTiming {
    return this.#options.timing;
  }

  /** Whether it leads and may act now. */
  leading(): boolean {
    return acting(this.#state, this.#clock(), this.#options.timing);
  }

  get epoch(): number | undefined {
    return this.#state.role === 'leader' ? this.#state.epoch : undefined;
  }

  /** The fence of the current term: acting only while this term lasts. Undefined while it does not lead. */
  fence(): LeaderFence | undefined {
    const state = this.#state;
    if (state.role !== 'leader' || !this.leading()) return undefined;
    const epoch = state.epoch;
    return { epoch, acting: () => this.leading() && this.epoch === epoch };
  }

  /** The first look (claim or follow) before it returns; then the timer. */
  async start(): Promise<void> {
    await this.#step();
  }

  /** Stops the timer; a leader gives its lease up, so another server takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    const state = this.#state;
    if (state.role !== 'leader') return;
    // The caller stops what the term started itself (it is stopping everything).
    this.#state = afterStepDown(this.#clock());
    await resignLeadership(this.#options.db, { holder: this.#options.id, epoch: state.epoch }).catch(() => {});
  }

  #schedule(): void {
    if (this.#stopped) return;
    const now = this.#clock();
    const { at } = nextAction(this.#state, now, this.#options.timing);
    this.#timer = setTimeout(() => void this.#step(), Math.max(0, at - now));
    this.#timer.unref();
  }

  async #step(): Promise<void> {
    if (this.#stopped) return;
    this.#running = this.#act().finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
    await this.#running;
  }

  async #act(): Promise<void> {
    const { db, timing, id, address, version } = this.#options;
    const now = this.#clock();
    const { action } = nextAction(this.#state, now, timing);
    if (action === 'step-down') return this.#stepDown(`its lease was not renewed within ${timing.actMs}ms${this.lastError ? ` (${this.lastError})` : ''}`);
    const before = this.#state;
    if (action === 'claim') {
      const outcome = await bounded(claimLeadership(db, { holder: id, address }, timing.ttlMs, Date.now(), (held) => this.#gone(held)), timing.actMs).then(
        (o) => ('leading' in o ? { epoch: o.leading.epoch } : ('led' as const)),
        (error: unknown) => this.#failed(error),
      );
      this.#state = afterClaim(now, outcome);
      if (this.#state.role === 'leader') {
        this.lastError = undefined;
        await Promise.resolve(this.#options.onLead(this.#state.epoch)).catch(() => {
          // A failure to resume a rollout is reported by the caller: the term goes on.
        });
      }
    } else if (before.role === 'leader') {
      const outcome = await bounded(renewLeadership(db, { holder: id, epoch: before.epoch }, timing.ttlMs), timing.actMs).then(
        (renewed) => (renewed ? ('renewed' as const) : ('lost' as const)),
        (error: unknown) => this.#failed(error),
      );
      if (outcome === 'renewed') this.lastError = undefined;
      this.#state = afterRenew(before, now, outcome);
      if (outcome === 'lost') this.#options.onStepDown(before.epoch, 'another server leads with a newer epoch');
    }
    await bounded(heartbeatServer(db, { id, address, version }), timing.retryMs).catch(() => {
      // The store is away: the lease's own outcome above says what that means.
    });
  }

  #stepDown(why: string): void {
    const state = this.#state;
    this.#state = afterStepDown(this.#clock());
    if (state.role === 'leader') this.#options.onStepDown(state.epoch, why);
  }

  #failed(error: unknown): 'failed' {
    this.lastError = error instanceof Error ? error.message : String(error);
    return 'failed';
  }

  /** A holder on this very machine whose process is gone (one server on SQLite restarted): nobody else can be it. */
  #gone(held: Leader): boolean {
    const local = this.#options.takeOverDeadLocal;
    if (!local) return false;
    const [hostname, pid] = held.holder.split(':');
    return hostname === local.hostname && pid !== undefined && /^\d+$/.test(pid) && Number(pid) !== process.pid && !isAlive(Number(pid));
  }
}

/**
 * A look at the store that has not answered within `ms` counts as failed (a database that stopped
 * answering without closing its connections): the term goes on by the clock, and steps down in time.
 */
function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms}ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
