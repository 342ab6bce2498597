/**
 * Berth's error categories. Every failure a user can act on is one of these;
 * the CLI (and later the HTTP API) renders them in exactly one place.
 */
export type ErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unavailable' | 'forbidden' | 'failed';

export interface ErrorDetails {
  /** What the user can do about it, one imperative sentence. */
  fix?: string;
  /** Extra lines shown under the message (e.g. the tail of a build log). */
  lines?: string[];
  cause?: unknown;
}

export class BerthError extends Error {
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
export const failed = (message: string, details?: ErrorDetails) => new BerthError('failed', message, details);

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
  failed: 1,
};

export function isBerthError(error: unknown): error is BerthError {
  return error instanceof BerthError;
}
