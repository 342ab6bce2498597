/**
 * A "LAN host" for integration tests: a network namespace plugged into a
 * Linux bridge by a veth pair, like another machine on the flat network.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { registerCleanup } from './cleanup.js';
import { recordMade } from './leftovers.js';
import { BUSYBOX } from './tiny-root.js';

const run = promisify(execFile);

/**
 * GET argv[1] with a timeout of argv[2] seconds; the body on stdout, exit 0 for a 2xx.
 * Node, not busybox wget: the static busybox's wget crashes on glibc hosts when it
 * looks up the "http" service through the host's NSS modules.
 */
const FETCH_SCRIPT = `const [url, seconds] = process.argv.slice(1);
fetch(url, { signal: AbortSignal.timeout(Number(seconds) * 1000) }).then(
  async (response) => { process.stdout.write(await response.text()); process.exitCode = response.ok ? 0 : 1; },
  (error) => { process.stderr.write(String(error.cause ?? error)); process.exitCode = 1; });`;

export interface ExecOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface LanHost {
  /** The network namespace's name. */
  name: string;
  /** Its address without the prefix length. */
  ip: string;
  fetch(url: string, timeoutS?: number): Promise<{ ok: boolean; body: string }>;
  /** The MAC this host has learned for `ip`, after one ping if it had none. */
  neighbourMac(ip: string): Promise<string | undefined>;
  /** Runs a command inside the namespace; a failing command is an outcome, not an error. */
  exec(argv: string[]): Promise<ExecOutcome>;
  /** Deletes the namespace and the veth pair; safe to call twice. */
  dispose(): Promise<void>;
}

/**
 * `cidr` is the host's address with its prefix length, e.g. 10.201.7.250/24. `recordIn` is the
 * test's folder (a fixture's dir): the namespace and veth are recorded there, so a sweep removes
 * them when the test was killed.
 */
export async function createLanHost(bridge: string, cidr: string, recordIn?: string): Promise<LanHost> {
  const id = randomBytes(4).toString('hex');
  const name = `berth-lan-${id}`;
  // Interface names are at most 15 characters.
  const outside = `bl${id}o`;
  const inside = `bl${id}i`;
  const exec = async (argv: string[]): Promise<ExecOutcome> => {
    try {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', name, ...argv], { timeout: 60_000 });
      return { exitCode: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
      return { exitCode: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
    }
  };
  let unregister = () => {};
  const dispose = async () => {
    unregister();
    // Deleting the namespace destroys the inside end, and with it the pair.
    await run('ip', ['netns', 'delete', name]).catch(() => {});
    await run('ip', ['link', 'delete', outside]).catch(() => {});
  };
  const readNeighbour = async (ip: string) => /lladdr ([0-9a-f:]{17})/.exec((await exec(['ip', 'neigh', 'show', ip])).stdout)?.[1];

  if (recordIn !== undefined) {
    recordMade(recordIn, 'netns', name);
    recordMade(recordIn, 'link', outside);
  }
  unregister = registerCleanup(`LAN host ${name}`, dispose);
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    await run('ip', ['link', 'set', outside, 'master', bridge]);
    await run('ip', ['link', 'set', outside, 'up']);
    await run('ip', ['link', 'set', inside, 'netns', name]);
    await run('ip', ['-n', name, 'addr', 'add', cidr, 'dev', inside]);
    await run('ip', ['-n', name, 'link', 'set', inside, 'up']);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await dispose();
    throw error;
  }

  return {
    name,
    ip: cidr.split('/')[0]!,
    exec,
    dispose,
    async fetch(url, timeoutS = 5) {
      const outcome = await exec([process.execPath, '-e', FETCH_SCRIPT, url, String(timeoutS)]);
      return outcome.exitCode === 0 ? { ok: true, body: outcome.stdout } : { ok: false, body: outcome.stderr };
    },
    async neighbourMac(ip) {
      const known = await readNeighbour(ip);
      if (known) return known;
      await exec([BUSYBOX, 'ping', '-c', '1', '-W', '1', ip]);
      return readNeighbour(ip);
    },
  };
}
