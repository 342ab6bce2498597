/**
 * The HTTP rendering of Berth's error categories, in one place: the status
 * each kind maps to, and the body (the same message, lines and fix the CLI
 * prints; the CLI's client turns it back into the same error).
 */
import { BerthErrors, type BerthError, type ErrorKind } from '../errors.js';

export const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
  failed: 500,
  'rolled-back': 500,
};

export interface ErrorBody {
  error: { kind: ErrorKind; message: string; fix?: string; lines?: string[]; problems?: { kind: ErrorKind; message: string; fix?: string; lines?: string[] }[] };
}

const one = (e: BerthError) => ({ kind: e.kind, message: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.lines.length > 0 ? { lines: e.lines } : {}) });

export function errorBody(error: BerthError): ErrorBody {
  return { error: { ...one(error), ...(error instanceof BerthErrors ? { problems: error.problems.map(one) } : {}) } };
}

/** A request body or query that did not match its schema (fastify's validation), in Berth's words. */
export function isValidationError(error: unknown): error is Error & { validation: unknown[]; validationContext?: string } {
  return typeof error === 'object' && error !== null && Array.isArray((error as { validation?: unknown }).validation);
}

