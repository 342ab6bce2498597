/**
 * The figures of a takeover under load (pure), from every request a client sent: when it
 * started, when it ended, whether it succeeded; and the crash as the moments its first
 * action began and its last one ended (taking a link down is itself a command that takes time).
 */
export type TimedRequest = readonly [start: number, end: number, ok: boolean];

export interface TakeoverFigures {
  /** Requests that ended before the crash began: all should have succeeded. */
  before: { sent: number; failed: number };
  /** Requests that overlapped the crash: they may have gone either way. */
  during: { sent: number; failed: number };
  /** Requests that started once the crash was done. */
  after: { sent: number; failed: number };
  /** ms from the end of the crash to the end of the first success started after it; undefined: none. */
  firstSuccessMs?: number;
  /** Failures among requests started at or after that first success (the goal is none). */
  failedAfterFirstSuccess: number;
}

export function takeoverFigures(requests: readonly TimedRequest[], crash: { began: number; done: number }): TakeoverFigures {
  const count = (list: readonly TimedRequest[]) => ({ sent: list.length, failed: list.filter(([, , ok]) => !ok).length });
  const before = requests.filter(([, end]) => end < crash.began);
  const after = requests.filter(([start]) => start >= crash.done);
  const during = requests.filter((r) => !before.includes(r) && !after.includes(r));
  const first = after.find(([, , ok]) => ok);
  return {
    before: count(before),
    during: count(during),
    after: count(after),
    ...(first ? { firstSuccessMs: first[1] - crash.done } : {}),
    failedAfterFirstSuccess: first ? requests.filter(([start, , ok]) => start >= first[0] && !ok).length : 0,
  };
}
