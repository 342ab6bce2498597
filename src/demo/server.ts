/**
 * The demo's Berth server: started once (detached, on 127.0.0.1:7878, its state
 * under examples/.berth/server) and reused by the next run; its admin token
 * and the demo's two deployer tokens kept in a 0600 file beside its state, so
 * a second run needs none of them printed again. `--down` stops it.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { BERTH_BIN, runBerth, type CliOutcome } from '../testing/cli.js';
import { failed } from '../errors.js';
import { startDetached, waitReady } from '../supervisor/detached.js';
import { runningFromPidFile, type ProcessIdentity } from '../supervisor/pid.js';
import { stopProcess, termThenKill } from '../supervisor/stop.js';

export const DEMO_LISTEN = '127.0.0.1:7878';

export interface DemoTokens {
  admin: string;
  /** deployer in every environment: releases and promotes. */
  deployer: string;
  /** deployer in production only: approves what the other asked. */
  approver: string;
}

export interface DemoServer {
  url: string;
  stateDir: string;
  tokens: DemoTokens;
  /** The environment of a CLI talking to the server with one of the tokens. */
  env(token: string): NodeJS.ProcessEnv;
}

const files = (stateDir: string) => ({ pid: join(stateDir, 'demo-server.pid'), log: join(stateDir, 'demo-server.log'), tokens: join(stateDir, 'demo-tokens.json') });

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${url}/v1/openapi.json`, { timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** The demo's server, when it runs (its command line names this state folder). */
function runningServer(stateDir: string): ProcessIdentity | undefined {
  return runningFromPidFile(files(stateDir).pid, stateDir);
}

/** Whether the bundle the CLI runs is newer than the server's start (its pid file). */
function rebuiltSince(stateDir: string): boolean {
  const bundle = join(dirname(BERTH_BIN), '..', 'dist', 'berth.cjs');
  return existsSync(bundle) && statSync(bundle).mtimeMs > statSync(files(stateDir).pid).mtimeMs;
}

async function start(stateDir: string, say: (line: string) => void): Promise<void> {
  const { pid, log } = files(stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const env = { ...process.env };
  delete env.BERTH_SERVER;
  delete env.BERTH_TOKEN;
  delete env.BERTH_STATE_DIR;
  // Detached: the server, its front doors and its instances keep running after the demo.
  const started = startDetached({ program: NODE, file: process.execPath, args: [BERTH_BIN, 'server', '--state', stateDir, '--listen', DEMO_LISTEN], env, log, logMode: 0o600, pidFile: pid });
  const notStarted = () => failed(`the demo's berth server did not start: ${started.logged().trim() || 'no output'}`, { fix: `is ${DEMO_LISTEN} taken? see ${log}` });
  await waitReady(started, { probe: async () => /listening on/.test(started.logged()), timeoutMs: 60_000, intervalMs: 200, exited: notStarted, timedOut: notStarted, stop: termThenKill(30_000) });
  for (const line of started.logged().split('\n')) if (line.trim() !== '' && !line.startsWith('admin token:')) say(`  ${line}`);
}

const NODE = { name: 'node', what: 'Node.js', debianPackage: 'nodejs' };

/** The admin token the first start printed (read from the server's log once, then kept in the tokens file). */
function adminToken(stateDir: string): string {
  const { log, tokens } = files(stateDir);
  if (existsSync(tokens)) return (JSON.parse(readFileSync(tokens, 'utf8')) as Partial<DemoTokens>).admin!;
  const match = existsSync(log) ? /^admin token: (\S+)$/m.exec(readFileSync(log, 'utf8')) : null;
  if (!match) throw failed(`the demo's berth server has a store but the demo lost its admin token`, { fix: `npm run demo -- --down, then remove ${stateDir} to start the server afresh` });
  return match[1]!;
}

export async function ensureDemoServer(projectStateDir: string, say: (line: string) => void): Promise<DemoServer> {
  const stateDir = join(projectStateDir, 'server');
  const url = `http://${DEMO_LISTEN}`;
  const running = runningServer(stateDir);
  if (running !== undefined && rebuiltSince(stateDir)) {
    // A server started before Berth was rebuilt runs the old code: started again (what runs keeps running).
    say(`  Berth was rebuilt since the demo's server started: restarting it`);
    await stopDemoServer(projectStateDir);
    await start(stateDir, say);
  } else if (running !== undefined && (await answers(url))) say(`  berth server already running on ${url} (state ${stateDir})`);
  else await start(stateDir, say);
  const admin = adminToken(stateDir);
  const { tokens: tokenFile, log } = files(stateDir);
  const env = (token: string): NodeJS.ProcessEnv => ({ ...process.env, BERTH_SERVER: url, BERTH_TOKEN: token });
  const saved = existsSync(tokenFile) ? (JSON.parse(readFileSync(tokenFile, 'utf8')) as Partial<DemoTokens>) : {};
  const create = async (name: string, role: string, envs?: string): Promise<string> => {
    const o = await runBerth(['token', 'create', '--name', name, '--role', role, ...(envs ? ['--envs', envs] : [])], { env: env(admin) });
    if (o.code !== 0) throw failed(`berth token create --name ${name} failed: ${o.stderr.trim()}`, { fix: `see ${log}` });
    say(`  $ berth token create --name ${name} --role ${role}${envs ? ` --envs ${envs}` : ''}`);
    for (const line of o.stdout.trim().split('\n').slice(0, -1)) say(`    ${line}`);
    say('    berth_… (the token, printed once as the last line)');
    return o.stdout.trim().split('\n').at(-1)!;
  };
  const tokens: DemoTokens = {
    admin,
    deployer: saved.deployer ?? (await create('demo-deployer', 'deployer')),
    approver: saved.approver ?? (await create('demo-approver', 'deployer', 'production')),
  };
  writeFileSync(tokenFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  return { url, stateDir, tokens, env };
}

/** Stops the demo's server (SIGTERM, SIGKILL after 30 s); true if one ran. */
export async function stopDemoServer(projectStateDir: string): Promise<boolean> {
  const running = runningServer(join(projectStateDir, 'server'));
  if (running === undefined) return false;
  await stopProcess(running, termThenKill(30_000));
  return true;
}

/** `berth <args> -p examples` through the server with `token`, its output shown under a "$ berth …" line. */
export async function berthThrough(server: DemoServer, token: string, examples: string, args: string[], say: (line: string) => void): Promise<CliOutcome> {
  say(`  $ berth ${args.join(' ')}`);
  const o = await runBerth([...args, '-p', examples], { env: server.env(token), timeoutMs: 600_000 });
  for (const line of `${o.stdout}${o.stderr}`.trimEnd().split('\n')) if (line !== '') say(`    ${line}`);
  return o;
}
