/**
 * Rollouts run in the server, not in the client: a request starts one and is
 * answered as soon as it is journaled (its id), or with its error when it is
 * refused before that (bad input, nothing to do, a host down). Its progress
 * and its end are events of the bus; `cancel` stops it between steps, and the
 * executor then rolls back as on any failure.
 */
import { failed, isBerthError, notFound } from '../errors.js';

import type { RolloutOptions, RolloutResult } from '../rollout/executor.js';
import { LostLeadership } from '../store/leases.js';
import type { EventBus } from './events.js';

/** `progress`: the events of a job that ended before it was journaled (nothing to do), for the answer itself. */
export type Started<R = RolloutResult> = { kind: 'started'; rollout: number } | { kind: 'finished'; result: R; progress: object[] };

/** What a job gets: its progress goes to `emit` (a rollout's events, or a deploy's), `onJournaled` answers the request, `signal` is its cancel. */
export type JobHooks = Required<Pick<RolloutOptions, 'onJournaled' | 'signal'>> & { emit: (event: object) => void };

export type RolloutWork<R = RolloutResult> = (hooks: JobHooks) => Promise<R>;

export function errorData(error: unknown): { kind: string; message: string; fix?: string; lines?: string[] } {
  if (isBerthError(error)) return { kind: error.kind, message: error.message, ...(error.fix ? { fix: error.fix } : {}), ...(error.lines.length ? { lines: error.lines } : {}) };
  return { kind: 'failed', message: error instanceof Error ? error.message : String(error) };
}

export class RolloutJobs {
  readonly #running = new Map<number, { controller: AbortController; done: Promise<void> }>();
  readonly #pending = new Set<Promise<void>>();

  constructor(private readonly events: EventBus) {}

  /** Starts `work`; resolves once it is journaled or ended, rejects if it was refused before it was journaled. */
  start<R = RolloutResult>(actor: string, work: RolloutWork<R>): Promise<Started<R>> {
    const controller = new AbortController();
    let id: number | undefined;
    const aliases: number[] = [];
    const early: object[] = [];
    // Not awaited: the bus keeps the order; a failure to store progress loses the progress, never the rollout.
    const publish = (type: string, data: object, rollout: number) => void this.events.publish(type, data, rollout).catch(() => {});
    const emit = (event: object) => {
      if (id === undefined) early.push(event);
      else publish('rollout-progress', event, id);
    };
    return new Promise<Started<R>>((resolve, reject) => {
      const onJournaled = (rollout: number) => {
        if (id !== undefined) {
          // The request first finished an interrupted rollout, then journaled its own: both ids run here (cancel takes either), the events stay under the first.
          if (rollout !== id) {
            this.#running.set(rollout, { controller, done });
            publish('rollout-progress', { type: 'note', text: `rollout #${rollout} started after #${id}` }, id);
            aliases.push(rollout);
          }
          return;
        }
        id = rollout;
        this.#running.set(rollout, { controller, done });
        resolve({ kind: 'started', rollout });
        // Called inside the executor, between journaling and the first step: a failure to publish must not stop the rollout.
        for (const event of early.splice(0)) publish('rollout-progress', event, rollout);
        publish('rollout-started', { rollout, actor }, rollout);
      };
      const done: Promise<void> = work({ emit, onJournaled, signal: controller.signal })
        .then(async (result) => {
          if (id === undefined) resolve({ kind: 'finished', result, progress: early });
          else await this.events.publish('rollout-finished', { result }, id);
        })
        .catch(async (error: unknown) => {
          if (id === undefined) reject(error);
          // This server stopped leading: the rollout stays journaled and running, and the server that leads next resumes it
          // and publishes its end. Its followers (a CLI following it) go on following rather than take this for its end.
          else if (error instanceof LostLeadership) await this.events.publish('rollout-progress', { type: 'note', text: `${error.message}; the server that leads next resumes it` }, id);
          else await this.events.publish('rollout-failed', { error: errorData(error) }, id);
        })
        .finally(() => {
          if (id !== undefined) this.#running.delete(id);
          for (const alias of aliases) this.#running.delete(alias);
          this.#pending.delete(done);
        });
      this.#pending.add(done);
    });
  }

  /** Whether this server runs the rollout now (a new term does not start it twice). */
  runsRollout(rollout: number): boolean {
    return this.#running.has(rollout);
  }

  isRunning(rollout: number): boolean {
    return this.#running.has(rollout);
  }

  /** Asks a running rollout to stop before its next step; it then rolls back to what ran before. */
  cancel(rollout: number, by: string): void {
    const job = this.#running.get(rollout);
    if (!job) throw notFound(`rollout #${rollout} is not running in this server`, { fix: 'berth rollout ls shows the rollouts and their states' });
    job.controller.abort(failed(`cancelled by ${by}`));
  }

  /** Waits for every rollout this server runs (a graceful stop). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

