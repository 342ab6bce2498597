/**
 * What the migrations share: their shape, and the column types that differ between the two
 * databases Berth's store runs on. Everything else (text, integer, defaults, CHECK, keys,
 * indexes) is written once with Kysely's schema builder and compiles for both.
 */
import { sql, type CreateTableBuilder, type Kysely, type RawBuilder } from 'kysely';

export type SqlDialect = 'sqlite' | 'postgres';

/** One schema version: run inside its own transaction, for either database. */
export type Migration = (db: Kysely<any>, dialect: SqlDialect) => Promise<void>;

/** SQLite's integer is 64-bit already; PostgreSQL's `integer` is 32-bit (sizes, tokens, ids need more). */
export function int64(dialect: SqlDialect): 'integer' | 'bigint' {
  return dialect === 'postgres' ? 'bigint' : 'integer';
}

/** Epoch milliseconds (Date.now()) passed 2^31 in 1970: a 64-bit integer. */
export const epochMs = int64;

/** PostgreSQL's `real` is 4 bytes; SQLite's is 8. */
export function float64(dialect: SqlDialect): 'real' | 'double precision' {
  return dialect === 'postgres' ? 'double precision' : 'real';
}

export function bytes(dialect: SqlDialect): 'blob' | 'bytea' {
  return dialect === 'postgres' ? 'bytea' : 'blob';
}

/**
 * A primary key the database assigns in ascending order, never reused. PostgreSQL's identity
 * is "by default" so rows can be copied in with their ids (then its sequence must be moved past them).
 */
export function autoId(name: string, dialect: SqlDialect) {
  return (table: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    dialect === 'postgres'
      ? table.addColumn(name, 'bigint', (column) => column.primaryKey().generatedByDefaultAsIdentity())
      : table.addColumn(name, 'integer', (column) => column.primaryKey().autoIncrement());
}

/** A CHECK that `column` is one of `values`. */
export function oneOf(column: string, values: readonly string[]): RawBuilder<unknown> {
  return sql`${sql.ref(column)} in (${sql.join(values.map((value) => sql.lit(value)))})`;
}
