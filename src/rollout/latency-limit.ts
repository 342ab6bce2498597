/**
 * How many launches of one step run at once on one engine: a limit that follows the engine's latency
 * instead of a fixed number (issue 24). Each launch reports how long the engine took to create and start
 * its container. While that stays within `tolerance` × the fastest seen, the engine keeps up: the limit
 * grows by one per launch (doubling per round, as TCP's slow start does). A slower answer means the
 * engine is queueing: the limit shrinks in proportion (the gradient of Netflix's concurrency-limits).
 * Pure bookkeeping, no clock: the caller measures.
 */
export interface LatencyLimitOptions {
  initial: number;
  min: number;
  max: number;
  /** How much slower than the fastest answer still counts as keeping up. */
  tolerance: number;
}

/** Per engine: 16 at once to begin with (as many as the fixed limit it replaced), 2 to 64. */
export const ENGINE_LIMIT: LatencyLimitOptions = { initial: 16, min: 2, max: 64, tolerance: 2 };

export class LatencyLimit {
  #limit: number;
  #running = 0;
  #fastest = Infinity;
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
    this.#fastest = Math.min(this.#fastest, Math.max(ms, 1));
    const keepsUp = ms <= this.#fastest * tolerance;
    this.#limit = keepsUp ? Math.min(max, this.#limit + 1) : Math.max(min, Math.floor((this.#limit * this.#fastest * tolerance) / ms));
    this.#wake();
  }

  #wake(): void {
    while (this.#waiting.length > 0 && this.#running < this.#limit) {
      this.#running++;
      this.#waiting.shift()!();
    }
  }
}
