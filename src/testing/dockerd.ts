/**
 * Restarts the local Docker Engine for tests of what survives an engine
 * restart. It stops every container without a restart policy, so only
 * tests that own the machine may call it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connectEngine } from '../engine/client.js';
import { failed, unavailable } from '../errors.js';
import { isAlive } from '../processes.js';
import { sleep } from '../time.js';
import { registerCleanup } from './cleanup.js';

const PID_FILE = '/var/run/docker.pid';
const SOCKET = '/var/run/docker.sock';
/** Where scripts/setup.sh sends dockerd's output. */
const LOG = '/var/log/berth-dockerd.log';

export async function restartDockerd(options: { timeoutMs?: number } = {}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (env.DOCKER_HOST) {
    throw unavailable(`cannot restart the engine at ${env.DOCKER_HOST}: a test can restart only the local dockerd`, { fix: 'unset DOCKER_HOST, or skip this test for a remote engine' });
  }
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  const pid = runningDockerd();
  const engine = connectEngine({ DOCKER_HOST: `unix://${SOCKET}` });
  const answers = () => engine.ping(1000).then(() => true, () => false);
  // A test interrupted between the stop and the start must not leave the machine without its engine.
  const unregister = registerCleanup('restart of dockerd', async () => {
    await until(Date.now() + 60_000, `dockerd (pid ${pid}) to exit`, async () => !isAlive(pid));
    if (!(await answers())) startDockerd();
  });
  try {
    process.kill(pid, 'SIGTERM');
    await until(deadline, `dockerd (pid ${pid}) to exit`, async () => !isAlive(pid));
    const started = startDockerd();
    await until(deadline, 'dockerd to answer GET /_ping', async () => {
      const spawnError = started.error();
      if (spawnError) throw failed(`could not start dockerd: ${spawnError.message}`, { fix: 'install docker.io ("npm run setup")' });
      return answers();
    });
  } finally {
    unregister();
  }
}

function startDockerd(): { error(): Error | undefined } {
  const log = openSync(LOG, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));
  // The engine outlives the test process, as when setup.sh started it.
  child.unref();
  return { error: () => spawnError };
}

function runningDockerd(): number {
  let pid = NaN;
  try {
    pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  } catch {
    // No pid file: handled below.
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) {
    throw unavailable(`no running dockerd found (pid file ${PID_FILE})`, { fix: 'start it with "npm run setup"' });
  }
  return pid;
}

async function until(deadline: number, what: string, done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) {
    if (Date.now() > deadline) throw failed(`timed out waiting for ${what}`, { fix: `see ${LOG}` });
    await sleep(200);
  }
}
