/** Test support: a flat network spec and a throw-away store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkSpec } from '../config/model.js';
import { openStore, type Db } from '../store/db.js';

export function flat(overrides: Partial<NetworkSpec> = {}): NetworkSpec {
  return { name: 'lan', mode: 'flat', bridge: 'br0', subnet: '10.77.0.0/24', gateway: '10.77.0.1', reserved: [], macPrefix: '02:42', createBridge: false, quarantineMs: 60_000, ...overrides };
}

/** A state folder with a migrated store; `open` adds connections to the same file, `dispose` closes them all and removes the folder. */
export function tempStore(): { dir: string; db: Db; open(): Db; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-test-'));
  const connections: Db[] = [];
  const open = () => {
    const db = openStore(dir);
    connections.push(db);
    return db;
  };
  const db = open();
  return { dir, db, open, dispose: () => { for (const c of connections) c.close(); rmSync(dir, { recursive: true, force: true }); } };
}
