/** Shared helpers for benchmarks: timing, medians, and BENCHMARKS.md sections. */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../src/engine/client.js';
import { parseSubnet } from '../src/network/addresses.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BERTH = join(REPO, 'bin', 'berth.js');

/** The engine's own CLI (Debian's docker.io matches the engine's API); the newer preinstalled client needs the version pinned. */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
export const DOCKER_ENV = { ...process.env, DOCKER_API_VERSION: '1.41', DOCKER_BUILDKIT: '0' };

/** Runs a command, failing loudly; returns wall milliseconds. */
export function timed(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const t0 = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}:\n${String(result.stdout)}\n${String(result.stderr)}`);
  }
  return ms;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);

/** Replaces (or appends) the section between <!-- bench:NAME --> markers, so each benchmark owns its part. */
export function writeSection(name: string, markdown: string): void {
  const file = join(REPO, 'BENCHMARKS.md');
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const current = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nMeasured on the project\'s machine (2 cores, shared and noisy): medians and ratios, each with the command that reproduces it.\n';
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  writeFileSync(file, pattern.test(current) ? current.replace(pattern, block) : `${current.trimEnd()}\n\n${block}\n`);
}

export function machine(): string {
  const cpus = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  const docker = spawnSync(DOCKER, ['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}})'], { encoding: 'utf8', env: DOCKER_ENV }).stdout.trim();
  return `${cpus} cores, Node ${process.version}, Docker Engine ${docker || '(not answering)'}, ${new Date().toISOString().slice(0, 10)}`;
}

/** The machine's load average when this benchmark's process started (this module is among its first imports). */
const LOAD_AT_START = loadavg();

/** The load average at the start and now: figures of a run on a busy machine compare only as ratios, and this says how busy. */
export function loadNote(): string {
  const format = (values: number[]) => values.map((v) => v.toFixed(1)).join(' / ');
  return `load average (1 / 5 / 15 min) ${format(LOAD_AT_START)} at the start, ${format(loadavg())} at the end`;
}

/** How this run was started, flags included: what the section's "Reproduce" names. */
export function invocation(name: string): string {
  return ['node', `dist/bench/${name}.js`, ...process.argv.slice(2)].join(' ');
}

export interface Finished {
  ms: number;
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking the event loop (so that, say, a load generator in this
 * process keeps going while it is timed); `onLine` sees each line of its stdout as it arrives.
 * Never rejects for a failure or a signal: look at `code`.
 */
export function spawnTimed(command: string, args: string[], options: SpawnOptions & { onLine?: (line: string) => void } = {}): { child: ChildProcess; done: Promise<Finished> } {
  const { onLine, ...spawnOptions } = options;
  const t0 = process.hrtime.bigint();
  const child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    if (!onLine) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const done = new Promise<Finished>((resolve, reject) => {
    child.once('error', reject);
    // 'close', not 'exit': all of its output has been read by then.
    child.once('close', (code, signal) => {
      if (onLine && partial !== '') onLine(partial);
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** `--name N` when N is a positive integer. */
export function positiveFlag(name: string): number | undefined {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : undefined;
  return value && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** The list starting at its `round`-th item, so no contender always goes first. */
/** The value after `name` on the command line, if given. */
export function stringFlag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  if (at < 0) return undefined;
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

export function rotated<T>(list: readonly T[], round: number): T[] {
  const at = round % list.length;
  return [...list.slice(at), ...list.slice(0, at)];
}

/** The "10.x.y" of a /24 in 10.150–199.x that no Docker network or route on this machine overlaps. */
export async function pickSubnet(engine: Engine): Promise<string> {
  const taken = (await engine.networks.list([])).map((n) => n.subnet).filter((s): s is string => s !== undefined);
  const routes = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.split(' ')[0] ?? '');
  const used = [...taken, ...routes].map((s) => parseSubnet(s.includes('/') ? s : `${s}/32`)).filter((s) => s !== undefined);
  for (let attempt = 0; attempt < 200; attempt++) {
    const prefix = `10.${150 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    const mine = parseSubnet(`${prefix}.0/24`)!;
    if (!used.some((u) => u.base <= mine.broadcast && mine.base <= u.broadcast)) return prefix;
  }
  throw new Error('no free /24 in 10.150.0.0–10.199.255.0');
}

/** SIGINT or SIGTERM during a benchmark: the rounds stop at their next step and everything made is removed. */
export class Interruption {
  interrupted = false;

  /** Throws once a signal came. */
  check(): void {
    if (this.interrupted) throw new Error('interrupted');
  }

  /** Returns `work` made to run at most once; a signal runs it too, then exits 130. */
  cleanUpOnSignal(work: () => Promise<void>): () => Promise<void> {
    let cleaning: Promise<void> | undefined;
    const cleanup = () => (cleaning ??= work());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        console.error(`${signal}: cleaning up`);
        this.interrupted = true;
        void cleanup().finally(() => process.exit(130));
      });
    }
    return cleanup;
  }
}
