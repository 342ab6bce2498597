/** Parsing of flag values shared by commands, with Berth's error shape. */
import { invalid } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "2m", "500ms" → milliseconds; undefined when the flag is absent. */
export function durationFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(value).trim());
  if (!match) throw invalid(`${flag} must be a duration like "90s", "2m" or "500ms", got "${String(value)}"`);
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

/** The longest an instance may take to become healthy (the API's limit too): beyond it a typo, not a wish. */
export const MAX_TIMEOUT_MS = 86_400_000;

/** --timeout of a rollout: a duration up to 24h. */
export function timeoutFlag(value: unknown): number | undefined {
  const ms = durationFlag(value, '--timeout');
  if (ms !== undefined && (ms < 1000 || ms > MAX_TIMEOUT_MS)) throw invalid(`--timeout must be between 1s and 24h, got "${String(value)}"`, { fix: 'e.g. --timeout 120s (per instance, until it is healthy)' });
  return ms;
}

export function positiveFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(/^\d+$/.test(String(value).trim()) && Number.isInteger(n) && n > 0)) throw invalid(`${flag} must be a whole number above 0, got "${String(value)}"`, { fix: `e.g. ${flag} 3` });
  return n;
}

export function requiredFlag(value: unknown, flag: string, usage: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${flag} is required`, { fix: `usage: ${usage}` });
  return value;
}

/**
 * `--to -1` as `--to=-1`: node's parser reads a value that starts with a dash as
 * a missing value ("ambiguous"); the flag's own check then says what it expects.
 */
export function attachDashedValues(args: readonly string[], stringFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg === '--') return [...out, ...args.slice(i)];
    if (stringFlags.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
