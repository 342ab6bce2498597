/**
 * A berth process killed at a checkpoint, played in-process (as rollout/crash-on-fake.test.ts does):
 * the checkpoint fault (fault.ts) of the doomed run returns a promise that never settles, so the run
 * stops there for good, and from then on every call it would make through a `severed` engine never
 * returns. Which run a checkpoint belongs to is told by `doomedRuns`, so the run that recovers is never
 * killed. Install the fault with `injectCheckpointFault(killAtCheckpoints)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A run that dies at its `at`-th checkpoint (counting from 1), or at the first one named `at`; `at` 0: it never dies, it only counts. */
export class Doomed {
  readonly passed: string[] = [];
  dead = false;
  readonly death: Promise<string>;
  #die: (where: string) => void = () => {};

  constructor(readonly at: number | string) {
    this.death = new Promise((resolve) => (this.#die = resolve));
  }

  /** The fault at a checkpoint of this run. */
  reach(where: string): void | Promise<void> {
    if (!this.dead) this.passed.push(where);
    if (this.dead || this.passed.length === this.at || where === this.at) {
      this.dead = true;
      this.#die(where);
      return new Promise<void>(() => {});
    }
  }
}

export const doomedRuns = new AsyncLocalStorage<Doomed>();

/** The checkpoint fault that kills the doomed run it belongs to. */
export const killAtCheckpoints = (where: string): void | Promise<void> => doomedRuns.getStore()?.reach(where);

/** `target` as a killed process would reach it: once `dead()`, no call it makes returns (nor does anything). */
export function severed<T extends object>(target: T, dead: () => boolean): T {
  return new Proxy(target, {
    get(t, key) {
      const value: unknown = Reflect.get(t, key, t);
      if (typeof value === 'function') return (...args: unknown[]) => (dead() ? new Promise(() => {}) : (value as (...a: unknown[]) => unknown).apply(t, args));
      if (value !== null && typeof value === 'object') return severed(value, dead);
      return value;
    },
  });
}
