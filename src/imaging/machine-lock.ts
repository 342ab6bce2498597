/**
 * A lock between the processes of one machine (a folder made atomically, the holder's pid
 * inside): several Berth processes — a server and a CLI, or test files run side by side —
 * that need the same system image wait for one of them to build it (a Debian bootstrap:
 * minutes), then find it by its key, instead of each bootstrapping it at once. A lock whose
 * holder died (SIGKILL) is taken over. Two waiters taking over one dead holder's lock at the
 * same instant may both build; the exact key makes that cost time, never a wrong image.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../processes.js';
import { sleep } from '../time.js';

export interface MachineLockOptions {
  /** How often a waiter looks again (default 500 ms). */
  pollMs?: number;
  /** Called once when the lock is held by another process (to say what it waits for). */
  onWait?: (holder: number) => void;
}

export async function withMachineLock<T>(path: string, work: () => Promise<T>, options: MachineLockOptions = {}): Promise<T> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(path, { recursive: false });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        mkdirSync(join(path, '..'), { recursive: true });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(path);
    // No pid: its holder is between making the folder and writing the file, or died there.
    if (holder === undefined ? ageMs(path) > ORPHAN_MS : !isAlive(holder)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (holder !== undefined && !told) {
      told = true;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 500);
  }
  try {
    writeFileSync(join(path, 'pid'), `${process.pid}\n`);
    return await work();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

const ORPHAN_MS = 10_000;

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(path, 'pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
