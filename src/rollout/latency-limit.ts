/**
 * How many launches of one step run at once on one engine: a limit that follows the engine's latency
 * instead of a fixed number (issue 24). Each launch reports how long the engine took to create and start
 * its container. While that stays within `tolerance` × its running average, the engine keeps up: the
 * limit grows by one per launch (doubling per round, as TCP's slow start does). A much slower answer
 * means the engine is queueing: the limit shrinks in proportion (the gradient of Netflix's
 * concurrency-limits). The average, not the fastest answer, is the baseline: on a busy machine one
 * lucky fast answer would make every later one look slow. Pure bookkeeping, no clock: the caller measures.
 */
export interface LatencyLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** How much slower than the fastest answer still counts as keeping up. */
  tolerance: number;
}

/**
 * Per engine: 16 at once to begin with and at least (the fixed limit it replaced: on the deploy bench the
 * engine started 30 containers sooner all at once than 16 at a time, so fewer never helped), up to 64.
 */
export const ENGINE_LIMIT: LatencyLimitOptions = { initial: 16, min: 16, max: 64, tolerance: 2 };

/** The weight of a new answer in the running average. */
const AVERAGE_WEIGHT = 0.1;

export class LatencyLimit {
  #limit: number;
  #running = 0;
  #average: number | undefined;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly options: LatencyLimitOptions = ENGINE_LIMIT) {
    this.#limit = options.initial;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Runs `task` once fewer than the limit run; the task calls `sample` with its engine's time. */
  async run<T>(task: (sample: (ms: number) => void) => Promise<T>): Promise<T> {
    // A waiter is counted as running by the one that wakes it.
    if (this.#running < this.#limit) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task((ms) => this.sample(ms));
    } finally {
      this.#running--;
      this.#wake();
    }
  }

  sample(ms: number): void {
    const { min, max, tolerance } = this.options;
    const average = this.#average ?? Math.max(ms, 1);
    const keepsUp = ms <= average * tolerance;
    this.#limit = keepsUp ? Math.min(max, this.#limit + 1) : Math.max(min, Math.floor((this.#limit * average * tolerance) / ms));
    this.#average = average + AVERAGE_WEIGHT * (Math.max(ms, 1) - average);
    this.#wake();
  }

  #wake(): void {
    while (this.#waiting.length > 0 && this.#running < this.#limit) {
      this.#running++;
      this.#waiting.shift()!();
    }
  }
}
