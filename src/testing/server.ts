/**
 * A real `berth server` as a child process for integration tests: its state in
 * the test's folder (so the fixture's cleanup stops it and removes its front
 * doors and containers), on a free loopback port, its admin token read from
 * its first line. `kill()` is SIGKILL; `start()` again on the same state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BERTH_BIN } from './cli.js';

export interface TestServer {
  url: string;
  adminToken: string;
  stateDir: string;
  /** What the server printed so far. */
  output(): string;
  /** SIGKILL, and wait for the process to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same state and port (the admin token stays the one of the first start). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The environment for a CLI that talks to this server with `token`. */
  envFor(base: NodeJS.ProcessEnv, token?: string): NodeJS.ProcessEnv;
}

const READY_MS = 60_000;

/**
 * `args`: more options of `berth server` (e.g. `--reconcile-interval 0s`). `options.stateDir`: the
 * server's state instead of DIR/server-state, e.g. the project's own, so the server finds the builds
 * and pushes the in-process commands recorded there.
 */
export async function startTestServer(dir: string, env: NodeJS.ProcessEnv, args: string[] = [], options: { stateDir?: string } = {}): Promise<TestServer> {
  const stateDir = options.stateDir ?? join(dir, 'server-state');
  let child: ChildProcess | undefined;
  let printed = '';
  let port = 0;
  let adminToken = '';

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const serverEnv = { ...env };
      delete serverEnv.BERTH_SERVER;
      delete serverEnv.BERTH_TOKEN;
      delete serverEnv.BERTH_STATE_DIR;
      const proc = spawn(process.execPath, [BERTH_BIN, 'server', '--state', stateDir, '--listen', `127.0.0.1:${port}`, ...args], { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      const timer = setTimeout(() => reject(new Error(`berth server did not start within ${READY_MS / 1000} s:\n${printed}`)), READY_MS);
      const onData = (text: string) => {
        printed += text;
        const token = /^admin token: (\S+)$/m.exec(printed);
        if (token && !adminToken) adminToken = token[1]!;
        const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(printed.slice(printed.lastIndexOf('berth server listening')));
        if (listening && printed.lastIndexOf('berth server listening') > printed.lastIndexOf('<start>')) {
          port = Number(listening[1]);
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.setEncoding('utf8').on('data', onData);
      proc.stderr!.setEncoding('utf8').on('data', (t: string) => (printed += t));
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        printed += `\n<exit ${code ?? signal}>\n`;
        reject(new Error(`berth server exited (${code ?? signal}) before it listened:\n${printed}`));
      });
    });

  const gone = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });

  printed += '<start>\n';
  await launch();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    adminToken,
    stateDir,
    output: () => printed,
    kill: async () => {
      child?.kill('SIGKILL');
      await gone();
    },
    start: async () => {
      printed += '<start>\n';
      await launch();
    },
    stop: async () => {
      child?.kill('SIGTERM');
      await gone();
    },
    envFor(base, token = adminToken) {
      const out: NodeJS.ProcessEnv = { ...base, BERTH_SERVER: `http://127.0.0.1:${port}`, BERTH_TOKEN: token };
      return out;
    },
  };
}
