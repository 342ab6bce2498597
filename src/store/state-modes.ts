/**
 * The state folder holds token hashes, encrypted secrets and their key, the
 * audit log and its head: only the user running Berth may read it. A new one
 * is made 0700 and its files 0600 (SQLite gives its -wal and -shm files the
 * mode of the database file). An existing state that is wider is reported,
 * not changed: its owner may have a reason, and the fix is one command.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_DIR_MODE = 0o700;
export const STATE_FILE_MODE = 0o600;

/** Makes the state folder (0700, its parents too when missing) unless it exists. */
export function makeStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: STATE_DIR_MODE });
}

/** Creates `file` empty with mode 0600 unless it exists (an empty file is a new SQLite database). */
export function makePrivateFile(file: string): void {
  if (existsSync(file)) return;
  closeSync(openSync(file, 'a', STATE_FILE_MODE));
}

/** The files of the state folder whose content is private: the store and its journals, the keys, the audit head. */
const PRIVATE = /^(berth\.db(-wal|-shm|-journal)?|.*\.key|audit\.head)$/;

/** The state folder and its private files that others than their owner may read or write, with their modes (e.g. "berth.db 0644"); [] when there are none or no state. */
export function widerThanPrivate(stateDir: string): string[] {
  if (!existsSync(stateDir)) return [];
  const wide = (path: string, shown: string): string[] => {
    const mode = statSync(path).mode & 0o777;
    return (mode & 0o077) !== 0 ? [`${shown} ${mode.toString(8).padStart(4, '0')}`] : [];
  };
  return [...wide(stateDir, stateDir), ...readdirSync(stateDir).filter((name) => PRIVATE.test(name)).flatMap((name) => wide(join(stateDir, name), name))];
}

/** One warning line about a wider state, with its fix; undefined when it is private. */
export function stateModeWarning(stateDir: string): { detail: string; fix: string } | undefined {
  const wide = widerThanPrivate(stateDir);
  if (wide.length === 0) return undefined;
  return {
    detail: `the state folder is readable by other users of this machine (it holds token hashes, encrypted secrets and their key, the audit log): ${wide.join(', ')}`,
    fix: `chmod -R go-rwx ${stateDir}`,
  };
}
