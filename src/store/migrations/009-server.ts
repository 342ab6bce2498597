/**
 * The server: API tokens (only their SHA-256 is kept), the versions of the
 * configuration `berth apply` uploaded, and the event stream (its seq is the
 * SSE event id a client resumes from).
 */
export default `
  CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin')),
    envs        TEXT NOT NULL DEFAULT '[]',
    hash        TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
  );
  CREATE TABLE config_versions (
    version     INTEGER PRIMARY KEY,
    project     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    files       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    applied_at  INTEGER NOT NULL
  );
  CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    type        TEXT NOT NULL,
    rollout     INTEGER,
    data        TEXT NOT NULL
  );
  CREATE INDEX events_rollout ON events (rollout, seq);
`;
