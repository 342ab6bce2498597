/**
 * Berth's error categories. Every failure a user can act on is one of these;
 * the CLI (and later the HTTP API) renders them in exactly one place.
 */
export type ErrorKind = 'invalid' | 'unauthenticated' | 'not-found' | 'conflict' | 'unavailable' | 'forbidden' | 'failed' | 'rolled-back';

export interface ErrorDetails {
  /** What the user can do about it, one imperative sentence. */
  fix?: string;
  /** Extra lines shown under the message (e.g. the tail of a build log). */
  lines?: string[];
  cause?: unknown;
}

/**
 * Marks an error as Berth's across bundles: `berth server` runs from a second
 * bundle (dist/berth-server.cjs) with its own copy of this class, so an error
 * it throws is no `instanceof` the CLI's BerthError. Symbol.for is one symbol
 * per process.
 */
const BRAND: unique symbol = Symbol.for('berth.error');

export class BerthError extends Error {
  readonly [BRAND] = true;
  readonly kind: ErrorKind;
  readonly fix: string | undefined;
  readonly lines: string[];

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BerthError';
    this.kind = kind;
    this.fix = details.fix;
    this.lines = details.lines ?? [];
  }
}

export const invalid = (message: string, details?: ErrorDetails) => new BerthError('invalid', message, details);
export const notFound = (message: string, details?: ErrorDetails) => new BerthError('not-found', message, details);
export const conflict = (message: string, details?: ErrorDetails) => new BerthError('conflict', message, details);
export const unavailable = (message: string, details?: ErrorDetails) => new BerthError('unavailable', message, details);
export const forbidden = (message: string, details?: ErrorDetails) => new BerthError('forbidden', message, details);
/** No token, or one the server does not know (revoked, mistyped): who is asking is unknown. */
export const unauthenticated = (message: string, details?: ErrorDetails) => new BerthError('unauthenticated', message, details);
export const failed = (message: string, details?: ErrorDetails) => new BerthError('failed', message, details);
/** A rollout that failed and was rolled back: the environment runs its previous release again. */
export const rolledBack = (message: string, details?: ErrorDetails) => new BerthError('rolled-back', message, details);

/** Several problems found at once (e.g. every invalid key of a project file). */
export class BerthErrors extends BerthError {
  readonly problems: BerthError[];

  constructor(problems: BerthError[]) {
    const first = problems[0];
    super(first?.kind ?? 'invalid', problems.map((p) => p.message).join('\n'));
    this.problems = problems;
  }
}

/** Exit codes per category, so scripts can tell "fix your input" from "try again later". */
export const exitCodes: Record<ErrorKind, number> = {
  invalid: 2,
  'not-found': 3,
  conflict: 4,
  unavailable: 5,
  forbidden: 6,
  unauthenticated: 9,
  failed: 1,
  'rolled-back': 7,
};

/**
 * A rollout that ran to its end without reaching its target exits non-zero
 * too: rolled back 7 (also thrown as 'rolled-back'), a canary aborted by its
 * gates 8, failed with nothing to roll back to 1. A canary still open, or
 * aborted by hand (`berth canary abort` did what was asked), exits 0.
 */
export const rolloutExitCodes = { succeeded: 0, canary: 0, 'rolled-back': 7, aborted: 8, failed: 1, running: 1, abandoned: 1 } as const;

/** Whether an error is one of Berth's categories, whichever bundle made it (see BRAND). */
export function isBerthError(error: unknown): error is BerthError {
  return error instanceof BerthError || (typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true);
}

/** Several problems at once, whichever bundle made them. */
export function problemsOf(error: BerthError): BerthError[] {
  const problems = (error as { problems?: unknown }).problems;
  return Array.isArray(problems) && problems.every(isBerthError) ? problems : [error];
}
