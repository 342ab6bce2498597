/**
 * The audit log: every mutating request and every action of the server's own
 * actors, appended as a chain. Each entry's hash is SHA-256 over the hash
 * before it and a canonical JSON of its fields, so a row edited, deleted or
 * moved in the table no longer matches: `verifyChain` names the first one.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../imaging/plan.js';
import { invalid } from '../errors.js';
import type { Store } from '../store/db.js';
import { appendAuditRow, auditRows, everyAuditRow, type AuditRow } from '../store/audit.js';
import { readAuditHead, type AuditHead } from './audit-head.js';
import { boundedEntry } from './audit-bounds.js';

export type AuditEntry = AuditRow;

export interface AuditInput {
  actor: string;
  action: string;
  target: string;
  params: Record<string, unknown>;
  outcome: string;
}

/** The prev_hash of the first entry. */
export const GENESIS = '0'.repeat(64);

type Hashed = Pick<AuditEntry, 'seq' | 'at' | 'actor' | 'action' | 'target' | 'params' | 'outcome'>;

export function entryHash(prevHash: string, entry: Hashed): string {
  const { seq, at, actor, action, target, params, outcome } = entry;
  return createHash('sha256').update(prevHash).update(canonicalJson({ seq, at, actor, action, target, params, outcome })).digest('hex');
}

/** The entry that follows `last` (undefined: the first), sealed with its hash. */
export function sealEntry(last: Pick<AuditEntry, 'seq' | 'hash'> | undefined, input: AuditInput, at: string): AuditEntry {
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS;
  const entry = { seq, at, ...input };
  return { ...entry, prevHash, hash: entryHash(prevHash, entry) };
}

export type ChainVerdict = { ok: true; count: number } | { ok: false; seq: number; reason: string };

/**
 * Checks entries in stored order; the first that does not match its chain is
 * named. With the head recorded outside the log (audit-head.ts), also entries
 * cut off the end and a chain rewritten from some entry on.
 */
export async function verifyChain(entries: Iterable<AuditEntry> | AsyncIterable<AuditEntry>, head?: AuditHead): Promise<ChainVerdict> {
  let previous: AuditEntry | undefined;
  let count = 0;
  for await (const entry of entries) {
    if (head && entry.seq === head.seq && entry.hash !== head.hash) return { ok: false, seq: entry.seq, reason: 'its hash is not the one recorded when it was written (the log was rewritten up to here)' };
    const expected = (previous?.seq ?? 0) + 1;
    const after = previous ? `entry ${previous.seq}` : 'the start of the log';
    if (entry.seq > expected) return { ok: false, seq: entry.seq, reason: `it follows ${after}: ${expected === entry.seq - 1 ? `entry ${expected} is` : `entries ${expected} to ${entry.seq - 1} are`} missing (deleted)` };
    if (entry.seq < expected) return { ok: false, seq: entry.seq, reason: `it comes after ${after}: the log is out of order (reordered)` };
    if (entry.prevHash !== (previous?.hash ?? GENESIS)) return { ok: false, seq: entry.seq, reason: `its prev_hash is not the hash of ${after} (an entry before it was changed or replaced)` };
    if (entry.hash !== entryHash(entry.prevHash, entry)) return { ok: false, seq: entry.seq, reason: 'its hash does not match its content (the row was edited)' };
    previous = entry;
    count++;
  }
  const last = previous?.seq ?? 0;
  if (head && head.seq > last) {
    const missing = head.seq === last + 1 ? `entry ${head.seq} is` : `entries ${last + 1} to ${head.seq} are`;
    return { ok: false, seq: last + 1, reason: `the log ends at ${previous ? `entry ${last}` : 'its start'}, but ${missing} recorded as written: cut off the end (deleted)` };
  }
  return { ok: true, count };
}

export interface EventSink {
  publish(type: string, data: unknown, rollout?: number): unknown;
}

/**
 * Appends an entry to the log (serialised: one transaction reads the last
 * hash and inserts), and publishes it as an `audit` event; both bounded
 * (audit-bounds.ts), whatever the request was.
 */
export async function auditAction(db: Store, events: EventSink | undefined, input: AuditInput, now = new Date()): Promise<AuditEntry> {
  const bounded = boundedEntry(input);
  // Hashed as stored: what JSON keeps of the params.
  const stored = { ...bounded, params: JSON.parse(JSON.stringify(bounded.params)) as Record<string, unknown> };
  const entry = await appendAuditRow(db, (last) => sealEntry(last, stored, now.toISOString()));
  // The entry is stored: an event the store refuses (the database gone in between) is missing from the streams, not a crash of the server.
  void Promise.resolve(events?.publish('audit', auditView(entry))).catch(() => {});
  return entry;
}

/** An entry as the API shows it. */
export function auditView(e: AuditEntry): { seq: number; at: string; actor: string; action: string; target: string; outcome: string; params: Record<string, unknown>; hash: string } {
  return { seq: e.seq, at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, params: e.params, hash: e.hash };
}

/** The entries of the log as the API shows them, oldest first: `since` a duration back from now or a date, the newest `limit` (default 1000). */
export async function auditEntries(db: Store, query: { since?: string; actor?: string; limit?: number }) {
  const { since, actor, limit } = query;
  const rows = await auditRows(db, { ...(since !== undefined ? { since: sinceInstant(since) } : {}), ...(actor !== undefined ? { actor } : {}), limit: limit ?? 1000 });
  return rows.map(auditView);
}

/** Checks the whole log against its chain and the head recorded in `stateDir`. */
export async function verifyAuditLog(db: Store, stateDir: string): Promise<ChainVerdict> {
  return verifyChain(everyAuditRow(db), readAuditHead(stateDir));
}

/** Keys whose values are never written to the log (whatever their depth). */
const SECRET_KEY = /^(value|values|password|passwd|secret|secrets|token|credentials?)$|(password|secret|token)$/i;

/**
 * A request body as the log keeps it: secret-looking keys dropped, and the
 * files of an apply reduced to their names (their content may hold anything).
 */
export function scrubParams(body: unknown, route?: string): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) return { body: typeof body === 'string' ? `${body.length} characters` : typeof body };
  const scrubbed = scrub(body) as Record<string, unknown>;
  const files = (body as Record<string, unknown>).files;
  if (route?.endsWith('/config') && files && typeof files === 'object') scrubbed.files = Object.keys(files).sort();
  return scrubbed;
}

function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !SECRET_KEY.test(key)).map(([key, v]) => [key, scrub(v)]));
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `since` as a duration back from now ("1h", "7d") or a date/time (ISO 8601) → the ISO instant entries are compared with. */
export function sinceInstant(since: string, now = Date.now()): string {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(since.trim());
  if (match) return new Date(now - Math.round(Number(match[1]) * UNITS[match[2]!]!)).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}/.test(since.trim()) ? Date.parse(since.trim()) : NaN;
  if (Number.isNaN(at)) throw invalid(`since "${since}" is neither a duration nor a date`, { fix: 'use a duration back from now like 1h or 7d, or an ISO date like 2026-12-01T09:00:00Z' });
  return new Date(at).toISOString();
}
