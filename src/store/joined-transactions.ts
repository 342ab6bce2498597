/**
 * The transaction an async call chain is inside, per store. A store function called with the
 * store itself (not the transaction) from inside `inTransaction` runs on the transaction's
 * connection instead of another one: SQLite has one connection, so waiting for it would never
 * end; PostgreSQL has a pool, where another connection would wait for the transaction's row locks
 * (or write outside it). A fenced write (leases.ts) can so call any store function as it is.
 *
 * `JoiningDriver` wraps the dialect's own driver and does only this, plus how a transaction begins.
 */
import { CompiledQuery, type DatabaseConnection, type Driver, type TransactionSettings } from 'kysely';
import { AsyncLocalStorage } from 'node:async_hooks';

interface Held {
  readonly driver: Driver;
  /** The open transaction's connection. */
  connection?: DatabaseConnection;
  /** Its connection, also after it ended: a borrowed query may be released after the commit. */
  lent?: DatabaseConnection;
  /** Queries borrowing the transaction's connection and not yet released. */
  borrowed: number;
}
const inside = new AsyncLocalStorage<Held>();

export class JoiningDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    /** The statement that opens a transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: serializable unless the caller asks otherwise). */
    private readonly begin: (settings: TransactionSettings) => string,
  ) {}

  #held(): Held | undefined {
    const held = inside.getStore();
    return held?.driver === this ? held : undefined;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const held = this.#held();
    if (held?.connection) {
      held.borrowed++;
      return held.connection;
    }
    return this.inner.acquireConnection();
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const held = this.#held();
    if (held && held.borrowed > 0 && held.lent === connection) {
      held.borrowed--;
      return;
    }
    return this.inner.releaseConnection(connection);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(this.begin(settings)));
    const held = this.#held();
    if (held) held.connection = held.lent = connection;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction(connection);
    } finally {
      this.#ended();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(connection);
    } finally {
      this.#ended();
    }
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  #ended(): void {
    const held = this.#held();
    if (held) delete held.connection;
  }

  /** Whether the calling chain is inside an open transaction of this driver. */
  joined(): boolean {
    return this.#held()?.connection !== undefined;
  }

  /** Runs `work` (which opens the transaction) as a chain whose store calls join it. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return inside.run({ driver: this, borrowed: 0 }, work);
  }
}
