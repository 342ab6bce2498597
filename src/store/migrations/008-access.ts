/**
 * Who did what: the audit log (each entry carries the hash of the one before,
 * so an edited, deleted or reordered row breaks the chain), and the approvals
 * a promotion to a protected environment waits for.
 */
export default `
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
`;
