/**
 * Leases replace locks: one per service × environment, held by one process (its
 * holder id) until `expires_at` unless renewed, with a fencing token that every
 * write of a rollout must match. `lease_tokens` keeps the last token handed out
 * per service × environment, so a token is never given twice, also after the
 * lease was released. A lock left by an older Berth becomes an expired lease:
 * the next command takes it over (and resumes its rollout, if it was running).
 */
export default `
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
`;
