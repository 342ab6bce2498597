/**
 * The migrations as SQLite SQL, exactly as Berth shipped them up to schema version 13 (before
 * they became portable functions in migrations/0NN-*.ts). History, for the tests: a store built
 * from these is what an older Berth left behind, and a store built by today's migrations must
 * be equivalent to it. Never edit.
 */
export const legacySqliteMigrations: readonly string[] = [
  // 001-build
  `
  CREATE TABLE builds (
    image       TEXT NOT NULL,
    key         TEXT NOT NULL,
    image_id    TEXT NOT NULL,
    parent_id   TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    built_at    INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (image, key)
  );
  CREATE INDEX builds_by_time ON builds (image, built_at DESC);

  CREATE TABLE file_hashes (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    sha256   TEXT NOT NULL
  );
  `,
  // 002-ship
  `
  CREATE TABLE pushes (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    image      TEXT NOT NULL,
    key        TEXT NOT NULL,
    image_id   TEXT NOT NULL,
    size       INTEGER NOT NULL,
    pushed_at  INTEGER NOT NULL,
    PRIMARY KEY (registry, repository, tag, digest)
  );
  CREATE INDEX pushes_by_build ON pushes (image, key);

  CREATE TABLE refs (
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('deployed', 'rollback', 'pinned')),
    environment TEXT NOT NULL DEFAULT '',
    service     TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (repository, digest, kind, environment, service)
  );
  CREATE INDEX refs_by_owner ON refs (kind, environment, service);
`,
  // 003-ipam
  `
  CREATE TABLE ipam_allocations (
    network      TEXT NOT NULL,
    ip           TEXT NOT NULL,
    mac          TEXT NOT NULL,
    slot         TEXT,
    incarnation  INTEGER NOT NULL CHECK (incarnation >= 1),
    state        TEXT NOT NULL CHECK (state IN ('allocated', 'bound', 'quarantined')),
    container_id TEXT,
    allocated_at INTEGER NOT NULL,
    released_at  INTEGER,
    PRIMARY KEY (network, ip),
    UNIQUE (network, slot),
    UNIQUE (network, mac),
    CHECK ((state = 'bound') = (container_id IS NOT NULL)),
    CHECK ((state = 'quarantined') = (released_at IS NOT NULL)),
    CHECK (slot IS NOT NULL OR state = 'quarantined')
  );
`,
  // 004-run
  `
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
`,
  // 005-release
  `
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
`,
  // 006-trust
  `
  CREATE TABLE rollouts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale', 'deploy')),
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
  INSERT INTO rollouts_new (id, service, environment, release, previous, kind, forced, status, message, actor, plan, done, started_at, finished_at)
    SELECT id, service, environment, release, previous, kind, forced, status, message, actor, plan, done, started_at, finished_at FROM rollouts;
  DROP TABLE rollouts;
  ALTER TABLE rollouts_new RENAME TO rollouts;
  CREATE INDEX rollouts_by_service ON rollouts (service, environment, id DESC);
`,
  // 007-fleet
  `
  CREATE TABLE host_states (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('draining')),
    reason     TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL,
    since      INTEGER NOT NULL
  );
  CREATE TABLE rollouts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale', 'deploy', 'move')),
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
`,
  // 008-access
  `
  CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    params      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
  );
  CREATE INDEX audit_by_actor ON audit (actor, seq);
  CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    service      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    request      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    decided_by   TEXT,
    decided_at   INTEGER,
    rollout      INTEGER
  );
  CREATE INDEX approvals_by_status ON approvals (status, id);
`,
  // 009-server
  `
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
`,
  // 010-leases
  `
  CREATE TABLE leases (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    rollout     INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    hostname    TEXT NOT NULL,
    token       INTEGER NOT NULL CHECK (token >= 1),
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (service, environment)
  );
  CREATE INDEX leases_by_holder ON leases (holder);

  CREATE TABLE lease_tokens (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    last        INTEGER NOT NULL CHECK (last >= 1),
    PRIMARY KEY (service, environment)
  );

  INSERT INTO lease_tokens (service, environment, last) SELECT service, environment, 1 FROM locks;
  INSERT INTO leases (service, environment, rollout, holder, pid, hostname, token, acquired_at, expires_at)
    SELECT service, environment, rollout, hostname || ':' || pid || ':lock', pid, hostname, 1, acquired_at, acquired_at FROM locks;
  DROP TABLE locks;
`,
  // 011-secrets
  `
  CREATE TABLE secrets (
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    name        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    tag         BLOB NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (service, environment, name)
  );
`,
  // 012-reconcile
  `
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
`,
  // 013-release-config
  `
  ALTER TABLE releases ADD COLUMN config_version INTEGER;
`,
  // 014-operations
  `
  CREATE TABLE rollouts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale', 'deploy', 'move', 'reconcile', 'restart', 'stop', 'rm', 'abandon')),
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
`,
  // 015-leadership (never shipped as SQL: the same schema written out, so the two ways keep agreeing)
  `
  CREATE TABLE leader (name TEXT PRIMARY KEY, holder TEXT NOT NULL, address TEXT NOT NULL, epoch INTEGER NOT NULL, since INTEGER NOT NULL, expires_at INTEGER NOT NULL);
  CREATE TABLE servers (id TEXT PRIMARY KEY, address TEXT NOT NULL, version TEXT NOT NULL, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);
  ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE config_bundles (version INTEGER PRIMARY KEY, bundle BLOB NOT NULL);
  CREATE TABLE key_fingerprints (name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
`,
  // 016-failover (written after the move to portable migrations: the same schema as SQL, so the comparison covers it)
  `
  CREATE TABLE host_health (
    name   TEXT PRIMARY KEY,
    state  TEXT NOT NULL CHECK (state IN ('up', 'suspect', 'down', 'returning')),
    since  INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
  );
  CREATE TABLE warden_leases (
    host       TEXT PRIMARY KEY,
    renewed_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE rollouts_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    environment TEXT NOT NULL,
    release     INTEGER NOT NULL,
    previous    INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('release', 'promote', 'rollback', 'canary', 'scale', 'deploy', 'move', 'reconcile', 'restart', 'stop', 'rm', 'abandon', 'failover')),
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
  CREATE TABLE tokens_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin', 'host')),
    envs       TEXT NOT NULL DEFAULT '[]',
    hash       TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  INSERT INTO tokens_new SELECT id, name, role, envs, hash, created_by, created_at, revoked_at FROM tokens;
  DROP TABLE tokens;
  ALTER TABLE tokens_new RENAME TO tokens;
`,
];
