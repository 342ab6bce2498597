/**
 * Run: address allocations of flat networks (IPAM). One row per address ever
 * handed out; the primary key makes two owners of one address impossible and
 * the (network, slot) key gives each slot at most one address per network.
 */
export default `
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
`;
