/**
 * Release: numbered releases per service (a digest plus its configuration),
 * rollouts of a release into an environment with their journal, the replica
 * count `berth scale` set, and one lock per service × environment.
 */
export default `
  CREATE TABLE releases (
    service     TEXT NOT NULL,
    number      INTEGER NOT NULL CHECK (number >= 1),
    image       TEXT NOT NULL,
    image_id    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    repository  TEXT NOT NULL DEFAULT '',
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (service, number)
  );

  CREATE TABLE rollouts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale')),
    forced      INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL CHECK (status IN ('running', 'canary', 'succeeded', 'failed', 'rolled-back', 'aborted')),
    message     TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    plan        TEXT NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE INDEX rollouts_by_service ON rollouts (service, environment, id DESC);

  CREATE TABLE scales (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    replicas    INTEGER NOT NULL CHECK (replicas >= 0),
    PRIMARY KEY (service, environment)
  );

  CREATE TABLE locks (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    rollout     INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    hostname    TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    PRIMARY KEY (service, environment)
  );

  CREATE TABLE front_doors (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    address     TEXT NOT NULL,
    port        INTEGER NOT NULL,
    PRIMARY KEY (service, environment)
  );
`;
