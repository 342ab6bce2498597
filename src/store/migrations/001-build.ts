/** Build: one row per image build, and a cache of large files' hashes. */
export default `
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
  `;
