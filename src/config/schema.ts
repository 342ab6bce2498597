/**
 * A small validator kit for project files. Each validator returns the typed
 * value or undefined, and reports every problem with its key path, so one run
 * tells the user about all mistakes at once.
 */
import { didYouMean } from './suggest.js';
import type { KeyPath } from './yaml-source.js';

export interface Problem {
  path: KeyPath;
  message: string;
  fix?: string;
}

export class Checker {
  readonly problems: Problem[] = [];

  report(path: KeyPath, message: string, fix?: string): undefined {
    this.problems.push(fix === undefined ? { path, message } : { path, message, fix });
    return undefined;
  }
}

export type Validator<T> = (value: unknown, path: KeyPath, check: Checker) => T | undefined;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string "${value}"`;
  return `${typeof value} ${String(value)}`;
}

export const str =
  (options: { pattern?: RegExp; hint?: string; nonEmpty?: boolean } = {}): Validator<string> =>
  (value, path, check) => {
    if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
    if (typeof value !== 'string') return check.report(path, `expected a string, got ${describe(value)}`);
    if ((options.nonEmpty ?? true) && value.trim() === '') return check.report(path, 'expected a non-empty string');
    if (options.pattern && !options.pattern.test(value)) {
      return check.report(path, `"${value}" is not ${options.hint ?? `of the form ${options.pattern}`}`);
    }
    return value;
  };

export const int =
  (options: { min?: number; max?: number } = {}): Validator<number> =>
  (value, path, check) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return check.report(path, `expected a whole number, got ${describe(value)}`);
    }
    if (options.min !== undefined && value < options.min) return check.report(path, `must be at least ${options.min}, got ${value}`);
    if (options.max !== undefined && value > options.max) return check.report(path, `must be at most ${options.max}, got ${value}`);
    return value;
  };

/** A TCP or UDP port number, 1 to 65535. */
export const portNumber = (): Validator<number> => (value, path, check) => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return value;
  return check.report(path, `expected a port number from 1 to 65535, got ${describe(value)}`, 'use a port like 8080');
};

export const bool = (): Validator<boolean> => (value, path, check) =>
  typeof value === 'boolean' ? value : check.report(path, `expected true or false, got ${describe(value)}`);

export const list =
  <T>(item: Validator<T>): Validator<T[]> =>
  (value, path, check) => {
    if (!Array.isArray(value)) return check.report(path, `expected a list, got ${describe(value)}`);
    const out: T[] = [];
    value.forEach((v, i) => {
      const checked = item(v, [...path, i], check);
      if (checked !== undefined) out.push(checked);
    });
    return out;
  };

/** A command or argument list: either a list of strings or one string run by /bin/sh -c. */
export const command = (): Validator<string[]> => (value, path, check) => {
  if (typeof value === 'string') return value.trim() === '' ? check.report(path, 'expected a non-empty command') : ['/bin/sh', '-c', value];
  return list(str())(value, path, check);
};

/** A mapping with free-form keys (env, labels). Scalar values are turned into strings. */
export const mapOf =
  <T>(item: Validator<T>, keyPattern?: { pattern: RegExp; hint: string; fix?: string }): Validator<Record<string, T>> =>
  (value, path, check) => {
    if (!isPlainObject(value)) return check.report(path, `expected a mapping, got ${describe(value)}`);
    const out: [string, T][] = [];
    for (const [key, v] of Object.entries(value)) {
      if (keyPattern && !keyPattern.pattern.test(key)) {
        check.report([...path, key], `"${key}" is not ${keyPattern.hint}`, keyPattern.fix);
        continue;
      }
      const checked = item(v, [...path, key], check);
      if (checked !== undefined) out.push([key, checked]);
    }
    // fromEntries defines own properties, so even a key named __proto__ is kept.
    return Object.fromEntries(out);
  };

export interface Field<T> {
  validate: Validator<T>;
  required?: boolean;
}

export type Shape = Record<string, Field<unknown>>;
type Out<S extends Shape> = { [K in keyof S]?: S[K] extends Field<infer T> ? T : never };

/** A mapping with known keys; unknown keys are rejected with the nearest known one. */
export const object =
  <S extends Shape>(shape: S): Validator<Out<S>> =>
  (value, path, check) => {
    if (value === null || value === undefined) value = {};
    if (!isPlainObject(value)) return check.report(path, `expected a mapping, got ${describe(value)}`);
    const out: Record<string, unknown> = {};
    const known = Object.keys(shape);
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(shape, key)) {
        check.report([...path, key], `unknown key "${key}"${didYouMean(key, known)}`, `allowed keys here: ${known.join(', ')}`);
      }
    }
    for (const [key, field] of Object.entries(shape)) {
      const v = value[key];
      if (v === undefined || v === null) {
        if (field.required) check.report([...path, key], `missing required key "${key}"`);
        continue;
      }
      const checked = field.validate(v, [...path, key], check);
      if (checked !== undefined) out[key] = checked;
    }
    return out as Out<S>;
  };

export const optional = <T>(validate: Validator<T>): Field<T> => ({ validate });
export const required = <T>(validate: Validator<T>): Field<T> => ({ validate, required: true });

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "2s", "5m", "1h", "14d" → milliseconds. */
export const duration = (): Validator<number> => (value, path, check) => {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim()) : null;
  if (!match) return check.report(path, `expected a duration like "500ms", "2s", "5m", "1h" or "14d", got ${describe(value)}`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]!]!);
};

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "256m", "1g", "512k" or a number of bytes → bytes. */
export const size = (): Validator<number> => (value, path, check) => {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  const match = typeof value === 'string' ? /^(\d+)\s*([bkmg]?)i?b?$/i.exec(value.trim()) : null;
  if (!match) return check.report(path, `expected a size like "256m" or "1g", got ${describe(value)}`);
  return Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
};

/** A dotted IPv4 address. */
export const ipv4 = (): Validator<string> =>
  str({ pattern: /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, hint: 'an IPv4 address like 10.0.0.5' });

/** An IPv4 subnet in CIDR form. */
export const cidr = (): Validator<string> =>
  str({ pattern: /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/, hint: 'a subnet like 10.77.0.0/24' });

/** What a control character (a newline, a tab, …) would break: a line of a generated file. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * An absolute path inside an image (workdir, app.dest). It is written into the
 * Dockerfile's WORKDIR, which has no quoted form and expands `$` and `\`, and
 * names entries of the build context, so it may have no control character, no
 * `$`, no `\` and no ".." step.
 */
export const pathInImage = (): Validator<string> => (value, path, check) => {
  const text = str()(value, path, check);
  if (text === undefined) return undefined;
  const fix = 'write an absolute path on one line, like /srv/app, without "$", "\\" or ".."';
  if (!text.startsWith('/')) return check.report(path, `${JSON.stringify(text)} is not an absolute path inside the image`, fix);
  if (CONTROL.test(text)) return check.report(path, `${JSON.stringify(text)} has a newline or another control character`, fix);
  if (/[$\\]/.test(text)) return check.report(path, `${JSON.stringify(text)} has a "$" or "\\", which the Dockerfile would expand`, fix);
  if (text.split('/').includes('..')) return check.report(path, `${JSON.stringify(text)} has a ".." step`, fix);
  return text;
};

/**
 * Berth's own variables (BERTH_USER, BERTH_IP, BERTH_SERVICE, …) are set by
 * Berth in every image and container; an image's or a service's env, or a
 * secret, that set one would undo what Berth decided (BERTH_USER="" runs the
 * service as root).
 */
export const RESERVED_ENV_PREFIX = 'BERTH_';

export function isReservedEnvName(name: string): boolean {
  return name.startsWith(RESERVED_ENV_PREFIX);
}

/** Drops and reports every key of a map of variables that is one of Berth's own. */
export const withoutReservedNames =
  <T>(inner: Validator<Record<string, T>>, what = 'variable'): Validator<Record<string, T>> =>
  (value, path, check) => {
    const map = inner(value, path, check);
    if (map === undefined) return undefined;
    const kept: [string, T][] = [];
    for (const [key, v] of Object.entries(map)) {
      if (!isReservedEnvName(key)) kept.push([key, v]);
      else check.report([...path, key], `the ${what} name "${key}" is reserved: names starting with ${RESERVED_ENV_PREFIX} are Berth's own`, `rename it, like APP_${key.slice(RESERVED_ENV_PREFIX.length)} (Berth sets ${key} itself; the user a service runs as is the image's "user:")`);
    }
    return Object.fromEntries(kept);
  };

const ENV_NAME = { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'a valid environment variable name' };

/** `env:` of a service or an environment's service: variable names (not Berth's own) to strings, handed to the engine as they are. */
export const envMap = (): Validator<Record<string, string>> => withoutReservedNames(mapOf(str({ nonEmpty: false }), ENV_NAME));

/** A value of an image's `env:`, written into one line of the Dockerfile. */
const oneLineValue: Validator<string> = (value, path, check) => {
  const text = str({ nonEmpty: false })(value, path, check);
  if (text === undefined || !CONTROL.test(text)) return text;
  return check.report(path, `${JSON.stringify(text)} has a newline or another control character, which an image's ENV cannot hold`, 'keep an image\'s env values on one line; put longer text in a file under static/ (or set it in the service\'s env)');
};

/** `env:` of an image: like a service's, with values on one line (they are written into the Dockerfile). */
export const imageEnvMap = (): Validator<Record<string, string>> => withoutReservedNames(mapOf(oneLineValue, ENV_NAME));

/** Where a secret comes from: an environment variable or a file. Its value is read only at use. */
export const secretRef = () =>
  object({
    env: optional(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'an environment variable name' })),
    file: optional(str()),
  });

/** A service's secret: `{ env: NAME }`, `{ file: PATH }`, or the word `stored` (the value `berth secret set` stored). */
export const serviceSecretRef = (): Validator<{ env?: string; file?: string } | { stored: true }> => (value, path, check) => {
  if (typeof value === 'string') {
    if (value.trim() === 'stored') return { stored: true };
    return check.report(path, `expected { env: NAME }, { file: PATH } or stored, got ${describe(value)}`, 'write "stored" for a value set with `berth secret set`, or a mapping like { env: DB_PASSWORD }');
  }
  return secretRef()(value, path, check);
};
