/**
 * The event bus: every event is appended to the store first (its seq is the
 * SSE id), then handed to the live subscribers, so a client that reconnects
 * with Last-Event-ID reads what it missed from the store and nothing twice.
 *
 * Servers sharing a store (`follow`) hand their subscribers every event of the
 * cluster, theirs and the others', in the order of the store: they read the
 * table after the last one they handed on, when PostgreSQL's NOTIFY wakes them,
 * every `pollMs` besides (a notification can be lost), and after a reconnect.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeFailure, storeListen, type Store } from '../store/db.js';
import { appendEvent, EVENTS_CHANNEL, eventsAfter, lastEventSeq, type EventRecord } from '../store/events.js';

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

  /** While following the store: the last seq handed to the subscribers, and how it stops. */
  #following: { last: number; stop: () => Promise<void>; reading?: Promise<void>; again: boolean } | undefined;

  publish(type: string, data: unknown, rollout?: number): Promise<EventRecord> {
    const published = this.#tail.then(async () => {
      const event = await appendEvent(this.db, { type, data, ...(rollout !== undefined ? { rollout } : {}) });
      if (this.#following) this.#read();
      else this.#live.emit('event', event);
      return event;
    });
    this.#tail = published.catch(() => {});
    return published;
  }

  /** Hands on the events every server appends to the store, from those appended after now. */
  async follow(options: { pollMs?: number } = {}): Promise<void> {
    if (this.#following) return;
    const last = await lastEventSeq(this.db);
    const poll = setInterval(() => this.#read(), options.pollMs ?? 1000);
    poll.unref();
    const listener = storeListen(this.db)?.(EVENTS_CHANNEL, () => this.#read(), () => this.#read());
    this.#following = {
      last,
      again: false,
      stop: async () => {
        clearInterval(poll);
        await listener?.close();
      },
    };
  }

  async stopFollowing(): Promise<void> {
    const following = this.#following;
    if (!following) return;
    await following.stop();
    await following.reading;
  }

  /** Reads what is new in the store and hands it on; one read at a time (one asked for meanwhile runs after it). */
  #read(): void {
    const following = this.#following;
    if (!following) return;
    if (following.reading) {
      following.again = true;
      return;
    }
    following.reading = (async () => {
      do {
        following.again = false;
        for (;;) {
          const page = await eventsAfter(this.db, following.last).catch(() => []);
          for (const event of page) {
            following.last = event.seq;
            this.#live.emit('event', event);
          }
          if (page.length < 1000) break;
        }
      } while (following.again);
    })().finally(() => (following.reading = undefined));
  }

  async after(seq: number, rollout?: number): Promise<EventRecord[]> {
    return await eventsAfter(this.db, seq, rollout === undefined ? {} : { rollout });
  }

  /**
   * The events after `seq`, read again while the store does not answer (a database outage), each
   * wait longer than the last; undefined once `signal` aborts. Any other failure is thrown.
   */
  async afterWaitingForStore(seq: number, rollout: number | undefined, signal: AbortSignal): Promise<EventRecord[] | undefined> {
    for (let wait = STORE_RETRY_MS.first; !signal.aborted; wait = Math.min(wait * 2, STORE_RETRY_MS.most)) {
      try {
        return await this.after(seq, rollout);
      } catch (error) {
        if (storeFailure(error)?.kind !== 'unavailable') throw error;
        await sleep(wait, undefined, { signal }).catch(() => {});
      }
    }
    return undefined;
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

/** The first and the longest wait between two reads of a store that does not answer. */
const STORE_RETRY_MS = { first: 250, most: 5_000 };
