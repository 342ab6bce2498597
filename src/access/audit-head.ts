/**
 * The audit log's head, kept outside the database: the seq and hash of the
 * newest entry written. The chain alone cannot show entries cut off its end,
 * nor a chain rewritten with fresh hashes from some entry on; against the head
 * both show (unless the head file is rewritten too).
 */
import { lstatSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { failed, unavailable } from '../errors.js';

export const AUDIT_HEAD_FILE = 'audit.head';

export interface AuditHead {
  seq: number;
  hash: string;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** The head recorded in `stateDir`; undefined when there is none yet (a log from before the head was kept: its chain is checked alone). */
export function readAuditHead(stateDir: string): AuditHead | undefined {
  const file = join(stateDir, AUDIT_HEAD_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    // Unreadable is not "none": taken for none, it would let a log cut off at its end pass as intact.
    throw unavailable(`the audit head ${file} cannot be read (${codeOf(error)})`, { fix: `make ${file} a file the server can read; it is rewritten by the server after every audit entry` });
  }
  let head: Partial<AuditHead> | undefined;
  try {
    head = JSON.parse(text) as Partial<AuditHead>;
  } catch {
    head = undefined;
  }
  if (typeof head?.seq === 'number' && typeof head.hash === 'string') return { seq: head.seq, hash: head.hash };
  throw failed(`the audit head ${file} is not a head written by Berth (it should be {"seq":N,"hash":"…"})`, { fix: `it was changed outside Berth: put back ${file} from a backup of the state folder` });
}

function unwritable(stateDir: string, error: unknown) {
  const file = join(stateDir, AUDIT_HEAD_FILE);
  return unavailable(`the audit head ${file} cannot be written (${codeOf(error)}): a change now could not be recorded, so none is accepted`, {
    fix: `make the state folder ${stateDir} writable by the server again (and ${file} a file); changes are accepted again at once`,
  });
}

function write(stateDir: string, head: AuditHead): void {
  const file = join(stateDir, AUDIT_HEAD_FILE);
  // Written whole, then renamed over the old one: a crash leaves the old head or the new, never half of one.
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Records `entry` as the head (the caller keeps it from going back: two requests may finish out of order); unavailable, naming the file, when it cannot. */
export function writeAuditHead(stateDir: string, entry: AuditHead): void {
  try {
    write(stateDir, entry);
  } catch (error) {
    throw unwritable(stateDir, error);
  }
}

/**
 * Before a change is made: can the head still be recorded? Rewrites `current`
 * (the newest head this process wrote, so it never goes back) the way an entry
 * writes it; with no head yet, writes and removes the temporary file, and
 * checks that nothing but a file stands where the head goes.
 */
export function checkAuditHeadWritable(stateDir: string, current: AuditHead | undefined): void {
  try {
    if (current) return write(stateDir, current);
    const tmp = join(stateDir, `${AUDIT_HEAD_FILE}.tmp`);
    writeFileSync(tmp, '', { mode: 0o600 });
    unlinkSync(tmp);
    const there = lstatSync(join(stateDir, AUDIT_HEAD_FILE), { throwIfNoEntry: false });
    if (there && !there.isFile()) throw Object.assign(new Error('not a file'), { code: there.isDirectory() ? 'EISDIR' : 'EEXIST' });
  } catch (error) {
    throw unwritable(stateDir, error);
  }
}
