/**
 * SQLite cannot alter a column's CHECK constraint (nor add one): the table is created anew
 * under a temporary name, its rows copied, the old one dropped and the new one renamed. Its
 * indexes go with the old table; the caller creates them again. PostgreSQL needs none of this.
 */
import { sql, type CreateTableBuilder, type Kysely } from 'kysely';

export async function rebuildSqliteTable(
  db: Kysely<any>,
  table: string,
  create: (name: string) => CreateTableBuilder<any, any>,
  copied: readonly string[],
): Promise<void> {
  const rebuilt = `${table}_new`;
  await create(rebuilt).execute();
  const columns = sql.join(copied.map((column) => sql.ref(column)));
  await sql`insert into ${sql.table(rebuilt)} (${columns}) select ${columns} from ${sql.table(table)}`.execute(db);
  await db.schema.dropTable(table).execute();
  await db.schema.alterTable(rebuilt).renameTo(table).execute();
}
