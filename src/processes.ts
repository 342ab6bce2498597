import { readdirSync, readFileSync } from 'node:fs';

/**
 * Whether a process runs. A zombie does not count, but a process with several
 * threads (HAProxy) can have a zombie main thread while the others still exit
 * and hold its sockets (the listener among them), so it counts until they are gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') return true;
  try {
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** A file's text, or undefined when it cannot be read (a process gone, a log not written yet). */
export function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
