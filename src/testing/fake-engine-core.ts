/**
 * What the FakeEngine's resources share: where it is, whether it answers, its event bus, and
 * errors made the way the real engine's are (an EngineCallError with Docker's status and words,
 * through engine/errors.ts `guard`), so callers see the same categories and messages.
 */
import { createHash } from 'node:crypto';
import { unavailable, type BerthError } from '../errors.js';
import { guard } from '../engine/errors.js';
import type { EngineEvent, EngineEventFilters } from '../engine/events.js';
import { EngineCallError } from '../engine/http.js';
import { EngineUnreachable } from '../engine/transport.js';

/** Docker's answer to a call it refused: its status and its message. */
export function refusal(status: number, message: string): EngineCallError {
  return new EngineCallError(status, message);
}

interface Subscriber {
  filters: EngineEventFilters;
  queue: EngineEvent[];
  wake: () => void;
}

export class FakeCore {
  #down = false;
  readonly #subscribers = new Set<Subscriber>();
  /** Calls waiting on something (a hung start): told when the engine stops answering. */
  readonly #onDown = new Set<() => void>();
  #clock = 0;

  constructor(readonly endpoint: string) {}

  get down(): boolean {
    return this.#down;
  }

  /** Every call from now on is refused as by an engine nobody listens for; event streams end. */
  stopAnswering(): void {
    this.#down = true;
    for (const notify of this.#onDown) notify();
    for (const s of this.#subscribers) s.wake();
  }

  answerAgain(): void {
    this.#down = false;
  }

  /** What the real transport reports for an engine that refuses connections. */
  unreachable(): EngineUnreachable {
    return new EngineUnreachable(this.endpoint, 'ECONNREFUSED', 'refused the connection (ECONNREFUSED): nothing listens there');
  }

  /** Runs one call as the real client does: unreachable when down, the engine's refusals mapped to Berth's categories. */
  answer<T>(what: string, call: () => T | Promise<T>): Promise<T> {
    return guard(this.endpoint, what, async () => {
      if (this.#down) throw this.unreachable();
      return call();
    });
  }

  /** Calls `notify` when the engine stops answering; returns the unsubscribe. */
  whenDown(notify: () => void): () => void {
    this.#onDown.add(notify);
    return () => this.#onDown.delete(notify);
  }

  emit(type: string, action: string, id: string, attributes: Record<string, string>): void {
    // Strictly increasing, as the engine's own clock is for events of one engine.
    this.#clock = Math.max(this.#clock + 1, Date.now() * 1e6);
    const event: EngineEvent = { type, action, id, attributes, timeNano: this.#clock };
    for (const s of this.#subscribers) {
      if (matches(s.filters, event)) {
        s.queue.push(event);
        s.wake();
      }
    }
  }

  async *events(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    if (signal.aborted) return;
    await this.answer('follow the engine events', () => undefined);
    const subscriber: Subscriber = { filters, queue: [], wake: () => undefined };
    this.#subscribers.add(subscriber);
    const onAbort = () => subscriber.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const next = subscriber.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#down) throw this.#ended();
        await new Promise<void>((resolve) => (subscriber.wake = resolve));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#subscribers.delete(subscriber);
    }
  }

  /** As events.ts says when the engine closes the stream. */
  #ended(): BerthError {
    return unavailable(`the engine at ${this.endpoint} ended its event stream`, { fix: 'check that the engine runs (berth hosts); the stream is followed again when it answers' });
  }
}

/** Docker's filters: every kind given must match; `event` matches "health_status: healthy" by its first word too; a label filter is "key" or "key=value". */
function matches(filters: EngineEventFilters, event: EngineEvent): boolean {
  if (filters.type?.length && !filters.type.includes(event.type)) return false;
  if (filters.event?.length && !filters.event.some((e) => e === event.action || e === event.action.split(':')[0])) return false;
  return labelsMatch(filters.label ?? [], event.attributes);
}

/** Every filter ("key" or "key=value") holds for the labels. */
export function labelsMatch(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((filter) => {
    const at = filter.indexOf('=');
    if (at < 0) return filter in labels;
    return labels[filter.slice(0, at)] === filter.slice(at + 1);
  });
}

/** A 64-hex ID like the engine's: the SHA-256 of `seed`. */
export function hexId(seed: string | Buffer): string {
  return createHash('sha256').update(seed).digest('hex');
}
