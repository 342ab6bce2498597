/**
 * Schema migrations, applied in order, one file per capability, each a function that runs on
 * SQLite and on PostgreSQL alike (migrations/columns.ts has the types that differ). Never edit
 * one that has shipped; add a new file at the end. `migrate.ts` applies them.
 */
import type { Migration } from './migrations/columns.js';
import build from './migrations/001-build.js';
import ship from './migrations/002-ship.js';
import ipam from './migrations/003-ipam.js';
import run from './migrations/004-run.js';
import release from './migrations/005-release.js';
import trust from './migrations/006-trust.js';
import fleet from './migrations/007-fleet.js';
import access from './migrations/008-access.js';
import server from './migrations/009-server.js';
import leases from './migrations/010-leases.js';
import secrets from './migrations/011-secrets.js';
import reconcile from './migrations/012-reconcile.js';
import releaseConfig from './migrations/013-release-config.js';
import operations from './migrations/014-operations.js';
import leadership from './migrations/015-leadership.js';
import failover from './migrations/016-failover.js';

export const migrations: readonly Migration[] = [build, ship, ipam, run, release, trust, fleet, access, server, leases, secrets, reconcile, releaseConfig, operations, leadership, failover];
