/** A release made through a server names the configuration version it was made with (NULL in-process). */
import type { Migration } from './columns.js';

const releaseConfig: Migration = async (db) => {
  await db.schema.alterTable('releases').addColumn('config_version', 'integer').execute();
};
export default releaseConfig;
