/** Test support: a flat network spec and a throw-away store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkSpec } from '../config/model.js';
import { closeStore, openStore, type Store, type StoreOptions } from '../store/db.js';

export function flat(overrides: Partial<NetworkSpec> = {}): NetworkSpec {
  return { name: 'lan', mode: 'flat', bridge: 'br0', subnet: '10.77.0.0/24', gateway: '10.77.0.1', reserved: [], macPrefix: '02:42', createBridge: false, quarantineMs: 60_000, ...overrides };
}

export interface TempStore {
  dir: string;
  db: Store;
  /** Another connection to the same file. */
  open(): Promise<Store>;
  /** Closes every connection and removes the folder. */
  dispose(): Promise<void>;
}

/** A state folder with a migrated store. */
/** `options` reach every connection (a fuzz test of contention waits longer for the lock than a command would). */
export async function tempStore(options: StoreOptions = {}): Promise<TempStore> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-test-'));
  const connections: Store[] = [];
  const open = async () => {
    const db = await openStore(dir, options);
    connections.push(db);
    return db;
  };
  const db = await open();
  const dispose = async () => {
    await Promise.all(connections.map(closeStore));
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, db, open, dispose };
}
