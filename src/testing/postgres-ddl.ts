/**
 * The migrations as PostgreSQL would receive them, without a PostgreSQL: a Kysely with
 * PostgreSQL's compiler over a driver that records each statement (and BEGIN/COMMIT) and
 * answers every query with no rows, so the schema version reads as 0 and all migrations run.
 */
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import { migrate } from '../store/migrate.js';

export interface RecordedStatement {
  sql: string;
  parameters: readonly unknown[];
}

class RecordingDriver implements Driver {
  constructor(private readonly recorded: RecordedStatement[]) {}

  readonly #connection: DatabaseConnection = {
    executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
      this.recorded.push({ sql: query.sql, parameters: query.parameters });
      return { rows: [] };
    },
    streamQuery: () => {
      throw new Error('the recording driver does not stream');
    },
  };

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    this.recorded.push({ sql: 'begin', parameters: [] });
  }
  async commitTransaction(): Promise<void> {
    this.recorded.push({ sql: 'commit', parameters: [] });
  }
  async rollbackTransaction(): Promise<void> {
    this.recorded.push({ sql: 'rollback', parameters: [] });
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** Every statement `migrate(db, 'postgres')` sends to a new, empty database, in order. */
export async function recordPostgresMigrations(): Promise<RecordedStatement[]> {
  const recorded: RecordedStatement[] = [];
  const db = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new RecordingDriver(recorded),
      createIntrospector: (kysely) => new PostgresIntrospector(kysely),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  try {
    await migrate(db, 'postgres');
  } finally {
    await db.destroy();
  }
  return recorded;
}
