/**
 * Run: what should run. `deployments` has one row per `berth deploy` with its
 * outcome; `slots` holds each instance's placement and the host ports it keeps
 * (the engine's containers are the truth of what does run).
 */
export default `
  CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    image        TEXT NOT NULL,
    image_id     TEXT NOT NULL,
    digest       TEXT NOT NULL,
    repository   TEXT NOT NULL DEFAULT '',
    replicas     INTEGER NOT NULL,
    network      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    message      TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER
  );
  CREATE INDEX deployments_by_service ON deployments (service, environment, id DESC);

  CREATE TABLE slots (
    environment  TEXT NOT NULL,
    slot         TEXT NOT NULL,
    service      TEXT NOT NULL,
    ordinal      INTEGER NOT NULL CHECK (ordinal >= 1),
    host         TEXT NOT NULL,
    network      TEXT NOT NULL,
    host_ports   TEXT NOT NULL DEFAULT '{}',
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, slot)
  );
`;
