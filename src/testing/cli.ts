/**
 * The real `berth` command as a child process, for integration tests that
 * need a separate process: one that can be killed (fault injection) while
 * the test process looks at what it left behind.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/berth.js of this checkout (it runs the bundle dist/berth.cjs: `npm run build` first). */
export const BERTH_BIN = fileURLToPath(new URL('../../../bin/berth.js', import.meta.url));

/** The CLI with a fault injected: `<this> <n> <berth arguments…>` kills itself at the n-th rollout checkpoint. */
const BERTH_KILLED_AT = fileURLToPath(new URL('./berth-killed-at.js', import.meta.url));

export interface CliOutcome {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `node bin/berth.js <args>` to its end (never rejects for a failure or a signal; `timeoutMs` kills it with SIGTERM).
 * `input` is written to its standard input (else it reads nothing). With `killAt`, the CLI kills itself at that
 * rollout checkpoint (it then runs unbundled, from dist/src, with the fault injected).
 */
export function runBerth(args: readonly string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string; killAt?: number }): Promise<CliOutcome> {
  const started = Date.now();
  const entry = options.killAt === undefined ? [BERTH_BIN] : [BERTH_KILLED_AT, String(options.killAt)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], { env: options.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close', not 'exit': every byte of its output has been read by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** An outcome as test failure text: how it ended and everything it printed. */
export function showOutcome(o: CliOutcome): string {
  return `exit ${o.code ?? o.signal}\n--- stdout\n${o.stdout}--- stderr\n${o.stderr}`;
}

/** `berth <args> -p <dir>` with the fixture's environment; with `killAt`, the CLI kills itself at that checkpoint. */
export function berthOn(fixture: { dir: string; env: NodeJS.ProcessEnv }, args: readonly string[], options: { killAt?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliOutcome> {
  return runBerth([...args, '-p', fixture.dir], {
    env: options.env ?? fixture.env,
    // Only against a hang: a first build on a loaded machine took over 3 minutes.
    timeoutMs: 600_000,
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.killAt === undefined ? {} : { killAt: options.killAt }),
  });
}
