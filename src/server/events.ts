/**
 * The event bus: every event is appended to the store first (its seq is the
 * SSE id), then handed to the live subscribers, so a client that reconnects
 * with Last-Event-ID reads what it missed from the store and nothing twice.
 */
import { EventEmitter } from 'node:events';
import type { Store } from '../store/db.js';
import { appendEvent, eventsAfter, type EventRecord } from '../store/events.js';

export type { EventRecord };

export class EventBus {
  readonly #live = new EventEmitter();
  /** Each open stream's end, with the name of the token that opened it. */
  readonly #streams = new Map<() => void, string>();

  constructor(private readonly db: Store) {
    this.#live.setMaxListeners(0);
  }

  /** The last publish: each waits for the one before, so events are stored (numbered) and delivered in the order they were published. */
  #tail: Promise<unknown> = Promise.resolve();

  publish(type: string, data: unknown, rollout?: number): Promise<EventRecord> {
    const published = this.#tail.then(async () => {
      const event = await appendEvent(this.db, { type, data, ...(rollout !== undefined ? { rollout } : {}) });
      this.#live.emit('event', event);
      return event;
    });
    this.#tail = published.catch(() => {});
    return published;
  }

  async after(seq: number, rollout?: number): Promise<EventRecord[]> {
    return await eventsAfter(this.db, seq, rollout === undefined ? {} : { rollout });
  }

  subscribe(listener: (event: EventRecord) => void): () => void {
    this.#live.on('event', listener);
    return () => this.#live.off('event', listener);
  }

  /** An open stream's way to end it (the server stopping, its token revoked); returns its removal. */
  trackStream(end: () => void, token: string): () => void {
    this.#streams.set(end, token);
    return () => this.#streams.delete(end);
  }

  /** Ends every open stream, or those a token opened (revoked: it reads nothing more, not even on a connection opened before). */
  closeStreams(token?: string): void {
    for (const [end, by] of [...this.#streams]) if (token === undefined || by === token) end();
  }
}
