/**
 * Ship: pushes to the registry and the references its garbage collection must keep.
 *
 * `pushes` has one row per (registry, repository, tag, digest) Berth pushed and
 * saw in the registry; a row is removed when GC deletes its manifest.
 * `refs` holds the digests other capabilities protect: Run records what is
 * deployed, Release what is kept for rollback, an operator may pin one.
 * Empty `environment`/`service` mean "not tied to one" (NULL would defeat UNIQUE).
 */
export default `
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
`;
