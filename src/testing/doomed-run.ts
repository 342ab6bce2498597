/**
 * Test support for the crash tests on the FakeEngine: a run "killed" in-process at its n-th
 * checkpoint (the checkpoint fault returns a promise that never settles, so nothing of the run
 * happens after it), which run a checkpoint belongs to, and an engine or front door as the
 * killed run reaches it (no call returns once it is dead).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A run that dies at its `at`-th checkpoint (counting from 1); `at` 0: it never dies, it only counts. */
export class Doomed {
  readonly passed: string[] = [];
  dead = false;
  readonly death: Promise<string>;
  #die: (where: string) => void = () => {};

  constructor(readonly at: number) {
    this.death = new Promise((resolve) => (this.#die = resolve));
  }

  /** The fault at a checkpoint of this run. */
  reach(where: string): void | Promise<void> {
    if (!this.dead) this.passed.push(where);
    if (this.dead || this.passed.length === this.at) {
      this.dead = true;
      this.#die(where);
      return new Promise<void>(() => {});
    }
  }
}

/** Which run a checkpoint belongs to: the fault kills only the doomed run, never the one that recovers. */
export const runs = new AsyncLocalStorage<Doomed>();

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
