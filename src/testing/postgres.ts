/**
 * Test support: a PostgreSQL cluster of the test's own, from Debian's `postgresql` package
 * (scripts/setup.sh installs it). `initdb` in a temporary folder owned by the `postgres` user
 * (PostgreSQL refuses to run as root), its own free port on 127.0.0.1 only, its unix socket in
 * that folder, a superuser `berth` with a random password (scram-sha-256). Started once per test
 * file (it takes seconds), a fresh database per test where needed; stopped and removed after the
 * file and on a signal (cleanup.ts). A cluster whose test process was killed outright (SIGKILL
 * leaves no time for cleanup) is stopped and removed by the next start (`sweepClusters`).
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { registerCleanup } from './cleanup.js';

export interface PostgresCluster {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A file holding the password (what --store-password-file takes). */
  readonly passwordFile: string;
  /** postgres://berth@127.0.0.1:PORT/DATABASE (no password in it, as Berth wants it). */
  url(database: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as the superuser in `database`. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<R[]>;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data: the database goes away (connections refused) until `resume`. */
  pause(): Promise<void>;
  /** Starts it again on the same data and port. */
  resume(): Promise<void>;
}

/** The newest PostgreSQL's binaries Debian installed, or those on the PATH. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  try {
    return execFileSync('sh', ['-c', 'dirname "$(command -v initdb)"'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on the PATH): run scripts/setup.sh, or apt-get install postgresql');
  }
}

/** Who runs the server: this process, or (as root, which PostgreSQL refuses) the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((line) => line.startsWith('postgres:'));
  if (!entry) throw new Error('running as root, and there is no "postgres" user to run PostgreSQL as: apt-get install postgresql makes it');
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const PREFIX = 'berth-pg-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops and removes the clusters of test processes that are gone; returns their folders. */
export function sweepClusters(root = tmpdir()): string[] {
  const swept: string[] = [];
  for (const name of readdirSync(root).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(root, name);
    const owner = Number(readText(join(dir, 'owner')));
    // No owner file yet: a start in progress, or not ours to judge.
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const postmaster = Number(readText(join(dir, 'data', 'postmaster.pid')).split('\n')[0]);
    if (Number.isInteger(postmaster) && postmaster > 0 && alive(postmaster)) {
      try {
        // Immediate shutdown: nobody is left to wait for.
        process.kill(postmaster, 'SIGQUIT');
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

export async function startPostgres(): Promise<PostgresCluster> {
  sweepClusters();
  const bin = binDir();
  const owner = runAs();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  const data = join(dir, 'data');
  const passwordFile = join(dir, 'password');
  const password = randomBytes(18).toString('base64url');
  const user = 'berth';
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  chmodSync(dir, 0o700);
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(passwordFile, owner.uid, owner.gid);
  }
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
        child.kill('SIGINT');
        const timer = setTimeout(() => child!.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })());
  const unregister = registerCleanup(`PostgreSQL cluster in ${dir}`, stop);
  const log = join(dir, 'postgres.log');
  const tail = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-8).join('\n') : '');
  try {
    execFileSync(join(bin, 'initdb'), ['-D', data, '-U', user, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(owner ?? {}),
      cwd: dir,
    });
    const port = await freePort();
    const out = openSync(log, 'a');
    if (owner) chownSync(log, owner.uid, owner.gid);
    // A test cluster: durability is not what is tested, speed on a busy machine is welcome.
    const settings = ['listen_addresses=127.0.0.1', `unix_socket_directories=${dir}`, 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200'];
    const launch = async () => {
      const started = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], { stdio: ['ignore', out, out], cwd: dir, ...(owner ?? {}) });
      child = started;
      const exit = new Promise<never>((_, reject) => started.once('exit', (code, signal) => reject(new Error(`PostgreSQL exited (${signal ?? code}) while starting:\n${tail()}`))));
      exit.catch(() => {});
      const deadline = Date.now() + 60_000;
      for (;;) {
        const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
        try {
          await Promise.race([client.connect(), exit]);
          await client.end();
          break;
        } catch (error) {
          await client.end().catch(() => {});
          if (started.exitCode !== null || started.signalCode !== null || Date.now() > deadline) throw error instanceof Error && error.message.includes('PostgreSQL exited') ? error : new Error(`PostgreSQL did not accept connections on 127.0.0.1:${port}: ${(error as Error).message}\n${tail()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    await launch();
    let databases = 0;
    const query = async <R extends pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<R[]> => {
      const client = new pg.Client({ host: '127.0.0.1', port, user, password, database });
      await client.connect();
      try {
        return (await client.query<R>(text, values)).rows;
      } finally {
        await client.end();
      }
    };
    const url = (database: string) => `postgres://${user}@127.0.0.1:${port}/${database}`;
    return {
      port,
      user,
      password,
      passwordFile,
      url,
      query,
      async createDatabase(name = `berth_${process.pid}_${++databases}`) {
        await query('postgres', `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0`);
        return url(name);
      },
      async stop() {
        unregister();
        await stop();
      },
      async pause() {
        const running = child;
        if (!running || running.exitCode !== null || running.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
        running.kill('SIGINT');
        await exited;
      },
      async resume() {
        await launch();
      },
    };
  } catch (error) {
    unregister();
    await stop();
    throw error;
  }
}

/** A cluster for one test file: started before its tests, stopped after them; call the result inside a test. */
export function postgresForFile(): () => PostgresCluster {
  let cluster: PostgresCluster | undefined;
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
  });
  return () => cluster ?? assertNever();
}

function assertNever(): never {
  throw new Error('the PostgreSQL cluster is not started (postgresForFile must be called at the top of the test file)');
}
