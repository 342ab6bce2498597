/**
 * The portable migrations on SQLite: a store an older Berth built with the SQL it shipped
 * (legacy-sqlite.fixture.ts) and one built by today's migrations have the same tables, columns,
 * keys, indexes and CHECKs, whether the store is new or upgraded from any earlier version.
 */
import { TABLES } from './copy.js';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { closeStore, openStore, STORE_FILE } from './db.js';
import { migrations } from './migrations.js';
import { legacySqliteMigrations } from './migrations/legacy-sqlite.fixture.js';

const root = mkdtempSync(join(tmpdir(), 'berth-migrations-'));
let dirs = 0;
const stateDir = () => {
  const dir = join(root, String(++dirs));
  mkdirSync(dir);
  return dir;
};

/** A store as the Berth that shipped schema version `version` left it. */
function legacyStore(version: number, seed?: (db: Database.Database) => void): string {
  const dir = stateDir();
  const db = new Database(join(dir, STORE_FILE));
  legacySqliteMigrations.slice(0, version).forEach((sql, index) => {
    db.exec(sql);
    db.pragma(`user_version = ${index + 1}`);
  });
  seed?.(db);
  db.close();
  return dir;
}

async function currentStore(from?: string): Promise<string> {
  const dir = from ?? stateDir();
  await closeStore(await openStore(dir));
  return dir;
}

function open(dir: string): Database.Database {
  return new Database(join(dir, STORE_FILE), { fileMustExist: true });
}

interface Column { name: string; type: string; notnull: number; dflt_value: string | null; pk: number }
interface Index { name: string; unique: number; origin: string; partial: number }
interface IndexColumn { name: string | null; desc: number; key: number }

/** What SQLite says about every table: columns, keys and indexes (auto-named ones by content only). */
function schemaOf(dir: string) {
  const db = open(dir);
  try {
    const tables = db.prepare(`select name, sql from sqlite_master where type = 'table' order by name`).all() as { name: string; sql: string }[];
    return {
      version: db.pragma('user_version', { simple: true }),
      tables: Object.fromEntries(
        tables.map(({ name, sql }) => [
          name,
          {
            autoincrement: /autoincrement/i.test(sql),
            columns: (db.pragma(`table_xinfo("${name}")`) as Column[]).map((c) => ({ name: c.name, type: c.type.toLowerCase(), notnull: c.notnull, default: c.dflt_value, pk: c.pk })),
            indexes: (db.pragma(`index_list("${name}")`) as Index[])
              .map((index) => ({
                name: index.origin === 'c' ? index.name : `(${index.origin})`,
                unique: index.unique,
                partial: index.partial,
                columns: (db.pragma(`index_xinfo("${index.name}")`) as IndexColumn[]).filter((c) => c.key).map((c) => `${c.name}${c.desc ? ' desc' : ''}`),
              }))
              .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          },
        ]),
      ),
    };
  } finally {
    db.close();
  }
}

type Row = Record<string, string | number | null>;
interface Probe { table: string; row: Row; accepted: Row[]; refused: Row[] }

/** One valid row per table with a CHECK, rows that must pass, and rows each CHECK must refuse. */
const probes: Probe[] = [
  { table: 'refs', row: { repository: 'r', digest: 'd', kind: 'pinned', created_at: 1 }, accepted: [{ kind: 'deployed' }, { kind: 'rollback' }], refused: [{ kind: 'bogus' }] },
  {
    table: 'ipam_allocations',
    row: { network: 'n', ip: '10.0.0.2', mac: 'm', slot: 's', incarnation: 1, state: 'allocated', allocated_at: 1 },
    accepted: [{ state: 'bound', container_id: 'c' }, { state: 'quarantined', released_at: 2 }, { state: 'quarantined', released_at: 2, slot: null }],
    refused: [{ incarnation: 0 }, { state: 'bogus' }, { state: 'bound' }, { container_id: 'c' }, { released_at: 2 }, { slot: null }, { state: 'quarantined' }],
  },
  {
    table: 'deployments',
    row: { service: 's', environment: 'e', image: 'i', image_id: 'x', digest: 'd', replicas: 1, network: 'n', status: 'running', started_at: 1 },
    accepted: [{ status: 'succeeded' }, { status: 'failed' }],
    refused: [{ status: 'bogus' }],
  },
  { table: 'slots', row: { environment: 'e', slot: 's', service: 's', ordinal: 1, host: 'h', network: 'n', updated_at: 1 }, accepted: [], refused: [{ ordinal: 0 }] },
  { table: 'releases', row: { service: 's', number: 1, image: 'i', image_id: 'x', digest: 'd', config: '{}', created_at: 1, created_by: 'a' }, accepted: [{ config_version: 3 }], refused: [{ number: 0 }] },
  {
    table: 'rollouts',
    row: { service: 's', environment: 'e', release: 1, kind: 'release', status: 'running', actor: 'a', plan: '[]', started_at: 1 },
    accepted: [...['promote', 'rollback', 'canary', 'scale', 'deploy', 'move', 'reconcile', 'restart', 'stop', 'rm', 'abandon', 'failover'].map((kind) => ({ kind })), ...['canary', 'succeeded', 'failed', 'rolled-back', 'aborted', 'abandoned'].map((status) => ({ status }))],
    refused: [{ kind: 'bogus' }, { status: 'bogus' }],
  },
  { table: 'scales', row: { service: 's', environment: 'e', replicas: 0 }, accepted: [], refused: [{ replicas: -1 }] },
  { table: 'host_health', row: { name: 'h', state: 'up', since: 1 }, accepted: [{ state: 'suspect' }, { state: 'down' }, { state: 'returning' }], refused: [{ state: 'draining' }] },
  { table: 'host_states', row: { name: 'h', state: 'draining', actor: 'a', since: 1 }, accepted: [], refused: [{ state: 'active' }] },
  {
    table: 'approvals',
    row: { service: 's', environment: 'e', request: '{}', requested_by: 'a', status: 'pending', created_at: 1, expires_at: 2 },
    accepted: [{ status: 'approved' }, { status: 'rejected' }, { status: 'expired' }],
    refused: [{ status: 'bogus' }],
  },
  { table: 'tokens', row: { name: 'n', role: 'viewer', hash: 'h', created_by: 'a', created_at: 1 }, accepted: [{ role: 'deployer' }, { role: 'admin' }, { role: 'host' }], refused: [{ role: 'root' }] },
  { table: 'leases', row: { service: 's', environment: 'e', rollout: 1, holder: 'h', pid: 1, hostname: 'h', token: 1, acquired_at: 1, expires_at: 2 }, accepted: [], refused: [{ token: 0 }] },
  { table: 'lease_tokens', row: { service: 's', environment: 'e', last: 1 }, accepted: [], refused: [{ last: 0 }] },
];

/** Inserts the row and rolls back: 'accepted', or SQLite's error code. */
function tryInsert(db: Database.Database, table: string, row: Row): string {
  const columns = Object.keys(row);
  db.exec('begin');
  try {
    db.prepare(`insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`).run(...Object.values(row));
    return 'accepted';
  } catch (error) {
    return String((error as { code?: unknown }).code ?? error);
  } finally {
    db.exec('rollback');
  }
}

function checkOutcomes(dir: string): Record<string, string[]> {
  const db = open(dir);
  try {
    return Object.fromEntries(probes.map((p) => [p.table, [p.row, ...p.accepted.map((o) => ({ ...p.row, ...o })), ...p.refused.map((o) => ({ ...p.row, ...o }))].map((row) => tryInsert(db, p.table, row))]));
  } finally {
    db.close();
  }
}

describe('the portable migrations on SQLite', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('there are as many as Berth shipped as SQL, and the fixture still builds the latest version', () => {
    assert.equal(migrations.length, legacySqliteMigrations.length);
    assert.equal(schemaOf(legacyStore(migrations.length)).version, migrations.length);
  });

  it('build a new store equivalent to one the SQL built: tables, columns, keys, indexes', async () => {
    const legacy = schemaOf(legacyStore(migrations.length));
    const current = schemaOf(await currentStore());
    assert.deepEqual(current, legacy);
    assert.deepEqual(Object.keys(current.tables).sort(), ['approvals', 'audit', 'builds', 'config_bundles', 'config_versions', 'deployments', 'events', 'file_hashes', 'front_doors', 'host_health', 'host_states', 'ipam_allocations', 'key_fingerprints', 'leader', 'lease_tokens', 'leases', 'pushes', 'refs', 'releases', 'rollouts', 'scales', 'secrets', 'servers', 'slots', 'sqlite_sequence', 'tokens', 'warden_leases']);
    assert.deepEqual([...TABLES].sort(), Object.keys(current.tables).filter((t) => t !== 'sqlite_sequence').sort(), 'berth store copy copies every table');
  });

  it('whose CHECKs accept and refuse the same rows (an invalid kind, state or status is still refused)', async () => {
    const legacy = checkOutcomes(legacyStore(migrations.length));
    const current = checkOutcomes(await currentStore());
    assert.deepEqual(current, legacy);
    for (const p of probes) {
      const expected = [...Array(1 + p.accepted.length).fill('accepted'), ...Array(p.refused.length).fill('SQLITE_CONSTRAINT_CHECK')];
      assert.deepEqual(current[p.table], expected, p.table);
    }
  });

  it('bring a store left at any earlier version to the same schema, running only the newer ones', async () => {
    const fresh = schemaOf(await currentStore());
    for (let version = 0; version <= migrations.length; version++) {
      assert.deepEqual(schemaOf(await currentStore(legacyStore(version))), fresh, `from version ${version}`);
    }
  });

  it('keep the rows of a rebuilt table, and its ids keep counting from where they were', async () => {
    const dir = legacyStore(5, (db) => {
      db.prepare(`insert into rollouts (id, service, environment, release, kind, status, actor, plan, started_at) values (41, 'web', 'prod', 3, 'release', 'succeeded', 'ann', '[]', 1000)`).run();
    });
    await currentStore(dir);
    const db = open(dir);
    try {
      assert.deepEqual(db.prepare('select id, service, kind, status, evidence from rollouts').all(), [{ id: 41, service: 'web', kind: 'release', status: 'succeeded', evidence: '{}' }]);
      const added = db.prepare(`insert into rollouts (service, environment, release, kind, status, actor, plan, started_at) values ('web', 'prod', 4, 'reconcile', 'running', 'reconciler', '[]', 2000)`).run();
      assert.equal(added.lastInsertRowid, 42);
    } finally {
      db.close();
    }
  });

  it('a store at a newer version than this Berth knows is refused, and left as it was', async () => {
    const dir = stateDir();
    const db = new Database(join(dir, STORE_FILE));
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    await assert.rejects(
      openStore(dir),
      (error: unknown) => isBerthError(error) && error.kind === 'unavailable' && error.message.includes(`schema version ${migrations.length + 1}, newer than this Berth knows (${migrations.length})`) && /fresh folder/.test(error.fix ?? ''),
    );
    assert.deepEqual(schemaOf(dir).tables, {});
  });
});
