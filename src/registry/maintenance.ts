/**
 * The maintenance marker: <state dir>/registry/maintenance.json exists while
 * `berth registry gc` works on the registry. Pushes wait while it is there; a
 * marker whose process is gone means a GC was interrupted.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive } from '../processes.js';

export interface Maintenance {
  pid: number;
  startedAt: number;
  /** The GC step in progress. */
  step: string;
}

export function readMaintenance(file: string): (Maintenance & { interrupted: boolean }) | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Maintenance;
    return { ...m, interrupted: !isAlive(m.pid) };
  } catch {
    return undefined;
  }
}

export function writeMaintenance(file: string, step: string, startedAt: number): void {
  writeFileSync(file, JSON.stringify({ pid: process.pid, startedAt, step } satisfies Maintenance));
}

export function clearMaintenance(file: string): void {
  rmSync(file, { force: true });
}
