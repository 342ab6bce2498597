/**
 * How soon the reconciler tries a failed repair of a service × environment
 * again: 10 s after the first failure, doubling up to 5 minutes, and at once
 * again after one succeeds. Without it a repair that cannot succeed (a port
 * taken, an image gone) repeats on every pass its own removed containers start.
 */
export interface Held {
  /** When the next attempt may start (epoch ms). */
  next: number;
  failures: number;
  message: string;
}

export class RepairBackoff {
  readonly #failures = new Map<string, Held>();

  constructor(
    readonly baseMs = 10_000,
    readonly maxMs = 300_000,
  ) {}

  /** The failure that holds the pair back at `now`, if any. */
  heldBack(key: string, now: number): Held | undefined {
    const held = this.#failures.get(key);
    return held && now < held.next ? held : undefined;
  }

  /** Nothing is held back until it fails again (a pass asked for by name); the failures still count up. */
  retryAllNow(): void {
    for (const held of this.#failures.values()) held.next = 0;
  }

  record(key: string, outcome: { ok: true } | { ok: false; message: string }, now: number): void {
    if (outcome.ok) {
      this.#failures.delete(key);
      return;
    }
    const failures = (this.#failures.get(key)?.failures ?? 0) + 1;
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures - 1, 30));
    this.#failures.set(key, { next: now + delay, failures, message: outcome.message });
  }
}
