/** Where the CLI writes: the one place that renders errors, JSON and tables. */
import { exitCodes, isBerthError, problemsOf, type BerthError } from '../errors.js';

export interface Output {
  isTTY: boolean;
  color: boolean;
  out(text: string): void;
  err(text: string): void;
}

/**
 * A stream of the terminal that stops taking text once a write failed (a closed
 * pipe, as in `berth promote … | head -1`, or a terminal gone): what the command
 * does goes on to its end and its exit code says how it ended; only the text is lost.
 */
export function tolerantWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let broken = false;
  stream.on('error', () => (broken = true));
  return (text) => {
    if (broken) return;
    try {
      stream.write(text, (error) => {
        if (error) broken = true;
      });
    } catch {
      broken = true;
    }
  };
}

let processWriters: { out: (text: string) => void; err: (text: string) => void } | undefined;

export function processOutput(): Output {
  const isTTY = Boolean(process.stdout.isTTY);
  processWriters ??= { out: tolerantWriter(process.stdout), err: tolerantWriter(process.stderr) };
  const { out, err } = processWriters;
  return {
    isTTY,
    color: isTTY && !process.env.NO_COLOR,
    out: (text) => out(`${text}\n`),
    err: (text) => err(`${text}\n`),
  };
}

export function printJson(output: Output, value: unknown): void {
  output.out(JSON.stringify(value, null, 2));
}

const KIND_TITLE: Record<BerthError['kind'], string> = {
  invalid: 'invalid input',
  'not-found': 'not found',
  conflict: 'conflict',
  unavailable: 'unavailable',
  forbidden: 'forbidden',
  unauthenticated: 'unauthenticated',
  failed: 'failed',
  'rolled-back': 'rolled back',
};

/** Renders any error once, in Berth's shape, and returns the exit code. */
export function renderError(output: Output, error: unknown, verbose = false): number {
  if (!isBerthError(error)) {
    output.err(`error (internal): ${error instanceof Error ? error.message : String(error)}`);
    if (verbose && error instanceof Error && error.stack) output.err(error.stack);
    else output.err('  this is a bug in Berth; run again with --verbose for the stack trace');
    return 70;
  }
  const problems = problemsOf(error);
  if (problems.length > 1) output.err(`error (${KIND_TITLE[error.kind]}): ${problems.length} problems`);
  for (const problem of problems) {
    output.err(`${problems.length > 1 ? '- ' : `error (${KIND_TITLE[problem.kind]}): `}${problem.message}`);
    for (const line of problem.lines) output.err(`    ${line}`);
    if (problem.fix) output.err(`  fix: ${problem.fix}`);
  }
  if (verbose && error.stack) output.err(error.stack);
  return exitCodes[error.kind];
}

/** A plain aligned table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let unit = 0;
  // Step up while the rounded figure would read 1000 or more.
  while (unit < units.length - 1 && Math.round(bytes / 1000 ** unit) >= 1000) unit++;
  const value = bytes / 1000 ** unit;
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
