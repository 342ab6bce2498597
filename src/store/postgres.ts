/**
 * The store on PostgreSQL: a pool of `pg` connections behind Kysely's PostgreSQL dialect, with the
 * same joined transactions as SQLite (joined-transactions.ts). db.ts loads this module only for a
 * postgres:// location, so the CLI, which always runs on SQLite, never loads `pg`.
 */
import { Kysely, PostgresAdapter, PostgresDriver, PostgresIntrospector, PostgresQueryCompiler, type TransactionSettings } from 'kysely';
import pg from 'pg';
import { JoiningDriver } from './joined-transactions.js';
import { describeLocation, tagStoreError, type StoreLocation } from './location.js';
import type { Schema } from './schema.js';

const INT8 = 20;

/**
 * `pg` returns 64-bit integers as strings (they may exceed 2^53). Berth's are epoch milliseconds,
 * ids, sizes and tokens, all far below, and the store's types say number (as SQLite returns them).
 */
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8 && format !== 'binary') return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
}

export interface PostgresOptions {
  poolSize?: number;
  connectTimeoutMs?: number;
}

/** A LISTEN on its own connection (a pooled one would be handed to others): notifications, and a reconnect after a loss. */
export interface Listener {
  close(): Promise<void>;
}

export type Listen = (channel: string, onNotify: () => void, onReconnect: () => void) => Listener;

export function openPostgres(location: Extract<StoreLocation, { kind: 'postgres' }>, options: PostgresOptions): { store: Kysely<Schema>; driver: JoiningDriver; listen: Listen } {
  const where = describeLocation(location);
  /** Every failure of a query or of a connection carries the store it came from (storeFailure names it). */
  class StoreClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      /*
       * The pool listens for errors only on idle connections: one lent out (a transaction between two
       * statements) that the database closes (a restart, an outage) would emit 'error' to nobody and
       * end the process. Its next query fails instead, and the pool drops it when it comes back.
       */
      this.on('error', () => {});
    }
    override query(...args: unknown[]): any {
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(tagStoreError(error, where))) : result;
    }
  }
  class StorePool extends pg.Pool {
    override connect(...args: unknown[]): any {
      if (args.length > 0) return (super.connect as (...a: unknown[]) => unknown)(...args);
      return super.connect().catch((error: unknown) => Promise.reject(tagStoreError(error, where)));
    }
  }
  const pool = new StorePool({
    Client: StoreClient,
    host: location.host,
    port: location.port,
    user: location.user,
    database: location.database,
    ...(location.password !== undefined ? { password: location.password } : {}),
    ...(location.ssl !== undefined ? { ssl: location.ssl as pg.PoolConfig['ssl'] } : {}),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'berth',
    types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
  });
  // An idle connection the server closed (a restart, a failover) is dropped from the pool; the next query opens another.
  pool.on('error', () => {});
  const driver = new JoiningDriver(new PostgresDriver({ pool }), (settings: TransactionSettings) => `begin isolation level ${settings.isolationLevel ?? 'serializable'}`);
  const store = new Kysely<Schema>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const config: pg.ClientConfig = {
    host: location.host,
    port: location.port,
    user: location.user,
    database: location.database,
    ...(location.password !== undefined ? { password: location.password } : {}),
    ...(location.ssl !== undefined ? { ssl: location.ssl as pg.ClientConfig['ssl'] } : {}),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'berth-listen',
  };
  const listen: Listen = (channel, onNotify, onReconnect) => {
    let closed = false;
    let client: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (again: boolean) => {
      if (closed) return;
      const c = new pg.Client(config);
      client = c;
      // Notifications sent while it was away are lost: the caller reads what it missed (onReconnect), and polls besides.
      const lost = () => {
        if (client !== c || closed) return;
        client = undefined;
        void c.end().catch(() => {});
        retry = setTimeout(() => void connect(true), 1000);
        retry.unref();
      };
      c.on('error', lost);
      c.on('end', lost);
      c.on('notification', () => onNotify());
      try {
        await c.connect();
        await c.query(`listen ${pg.escapeIdentifier(channel)}`);
        if (again) onReconnect();
      } catch {
        lost();
      }
    };
    void connect(false);
    return {
      close: async () => {
        closed = true;
        clearTimeout(retry);
        await client?.end().catch(() => {});
      },
    };
  };
  return { store, driver, listen };
}
