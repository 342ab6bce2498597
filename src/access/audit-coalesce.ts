/**
 * The audit entries of requests without a valid token, coalesced per source
 * address: the first refusal of a source is written at once, the ones after it
 * in the same minute are counted and written as one entry when the minute
 * ends (or the server stops). Nobody can grow the log without a token, and
 * every refusal stays visible, in a count. Entries are only ever appended, so
 * the hash chain holds: nothing written is updated.
 */
import type { AuditInput } from './audit.js';

export const COALESCE_WINDOW_MS = 60_000;
/** Sources with an open window at once; past it, the oldest window is written early. */
export const SOURCES_MAX = 10_000;
/** Distinct actions counted in one summary; the rest are counted as "other". */
const ACTIONS_MAX = 10;

interface Window {
  started: number;
  last: number;
  count: number;
  statuses: Map<number, number>;
  actions: Map<string, number>;
  timer: NodeJS.Timeout;
}

export interface CoalesceOptions {
  windowMs?: number;
  now?: () => number;
  /** A summary written when its window ends (by a timer) failed. */
  onError?: (error: unknown) => void;
}

const tally = (counts: Map<string, number> | Map<number, number>) => Object.fromEntries([...counts].map(([key, n]) => [String(key), n]));

/** The entry that stands for the refusals after the first of a window: their count, statuses and actions. */
export function summaryOf(source: string, window: Pick<Window, 'started' | 'last' | 'count' | 'statuses' | 'actions'>): AuditInput {
  const statuses = [...window.statuses].map(([status, n]) => `${status} ×${n}`).join(', ');
  return {
    actor: 'anonymous',
    action: 'refused requests',
    target: `from ${source}`,
    params: { source, count: window.count, from: new Date(window.started).toISOString(), to: new Date(window.last).toISOString(), statuses: tally(window.statuses), actions: tally(window.actions) },
    outcome: `refused ×${window.count} more from ${source} within a minute of the entry before (${statuses})`,
  };
}

export class CoalescedRefusals {
  readonly #windows = new Map<string, Window>();
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;

  constructor(
    private readonly write: (input: AuditInput) => Promise<unknown>,
    options: CoalesceOptions = {},
  ) {
    this.#windowMs = options.windowMs ?? COALESCE_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  /** A refused request from `source` (its entry, its HTTP status): written at once if it opens a window, else counted. */
  async record(source: string, input: AuditInput, status: number): Promise<void> {
    const now = this.#now();
    const open = this.#windows.get(source);
    if (open) {
      open.count++;
      open.last = now;
      open.statuses.set(status, (open.statuses.get(status) ?? 0) + 1);
      const action = open.actions.has(input.action) || open.actions.size < ACTIONS_MAX ? input.action : 'other';
      open.actions.set(action, (open.actions.get(action) ?? 0) + 1);
      return;
    }
    if (this.#windows.size >= SOURCES_MAX) await this.#close(this.#windows.keys().next().value!);
    const timer = setTimeout(() => void this.#close(source).catch(this.#onError), this.#windowMs);
    timer.unref();
    this.#windows.set(source, { started: now, last: now, count: 0, statuses: new Map(), actions: new Map(), timer });
    await this.write({ ...input, params: { ...input.params, source } });
  }

  /** Writes every open window's count now (the server stops). */
  async flush(): Promise<void> {
    for (const source of [...this.#windows.keys()]) await this.#close(source);
  }

  async #close(source: string): Promise<void> {
    const window = this.#windows.get(source);
    if (!window) return;
    this.#windows.delete(source);
    clearTimeout(window.timer);
    if (window.count > 0) await this.write(summaryOf(source, window));
  }
}
