/**
 * The store suite (store-suite.ts) on PostgreSQL: a cluster of this file's own (testing/postgres.ts),
 * a fresh database per group, a second pool on it for the races; the password from a file, as
 * `berth server --store-password-file` takes it.
 */
import { closeStore, openStore, type Store } from './db.js';
import { storeSuite } from './store-suite.js';
import { startPostgres } from '../testing/postgres.js';

storeSuite('PostgreSQL', async () => {
  const cluster = await startPostgres();
  const opened: Store[] = [];
  const open = async (url: string) => {
    const db = await openStore(url, { passwordFile: cluster.passwordFile });
    opened.push(db);
    return db;
  };
  return {
    async fresh() {
      const url = await cluster.createDatabase();
      return { db: await open(url), twin: () => open(url) };
    },
    async cleanup() {
      for (const db of opened.splice(0)) await closeStore(db);
      await cluster.stop();
    },
  };
});
