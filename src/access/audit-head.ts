/**
 * The audit log's head, kept outside the database: the seq and hash of the
 * newest entry written. The chain alone cannot show entries cut off its end,
 * nor a chain rewritten with fresh hashes from some entry on; against the head
 * both show (unless the head file is rewritten too).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const AUDIT_HEAD_FILE = 'audit.head';

export interface AuditHead {
  seq: number;
  hash: string;
}

export function readAuditHead(stateDir: string): AuditHead | undefined {
  try {
    const head = JSON.parse(readFileSync(join(stateDir, AUDIT_HEAD_FILE), 'utf8')) as Partial<AuditHead>;
    return typeof head.seq === 'number' && typeof head.hash === 'string' ? { seq: head.seq, hash: head.hash } : undefined;
  } catch {
    return undefined; // none yet (a log from before the head was kept), or unreadable: the chain is checked alone
  }
}

/** Records `entry` as the head (the caller keeps it from going back: two requests may finish out of order). */
export function writeAuditHead(stateDir: string, entry: AuditHead): void {
  const file = join(stateDir, AUDIT_HEAD_FILE);
  // Written whole, then renamed over the old one: a crash leaves the old head or the new, never half of one.
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ seq: entry.seq, hash: entry.hash })}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
