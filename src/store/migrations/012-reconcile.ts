/**
 * The reconciler: rollouts of kind 'reconcile' (a slot recreated, a front door restarted by the
 * reconciler, as actor "reconciler"). SQLite cannot alter a CHECK constraint, so the rollouts
 * table is rebuilt with its rows, as 007 did.
 */
export default `
  CREATE TABLE rollouts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale', 'deploy', 'move', 'reconcile')),
    forced      INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL CHECK (status IN ('running', 'canary', 'succeeded', 'failed', 'rolled-back', 'aborted', 'abandoned')),
    message     TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    plan        TEXT NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    evidence    TEXT NOT NULL DEFAULT '{}'
  );
  INSERT INTO rollouts_new SELECT id, service, environment, release, previous, kind, forced, status, message, actor, plan, done, started_at, finished_at, evidence FROM rollouts;
  DROP TABLE rollouts;
  ALTER TABLE rollouts_new RENAME TO rollouts;
  CREATE INDEX rollouts_by_service ON rollouts (service, environment, id DESC);
`;
