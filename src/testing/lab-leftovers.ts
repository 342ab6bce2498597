/** What of a lab is still on the machine, for tests that show a dispose or a sweep removed it all. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CERTS_DIR, mountsUnder } from './host-objects.js';
import { listProcesses } from './leftovers.js';

const run = promisify(execFile);

export interface LabTrace {
  id: string;
  dir: string;
  certs: string[];
}

/** Everything left that names the lab: empty lists when it is gone. */
export async function labLeftovers(trace: LabTrace): Promise<Record<string, string[]>> {
  const named = (text: string) => text.includes(trace.id);
  const cgroups = ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c))].flatMap((root) => {
    try {
      return readdirSync(root).filter(named).map((name) => join(root, name));
    } catch {
      return [];
    }
  });
  const rules = await run('iptables', ['-w', '-S', 'FORWARD']).then(
    ({ stdout }) => stdout.split('\n').filter(named),
    () => [],
  );
  return {
    namespaces: readdirSync('/run/netns').filter(named),
    links: readdirSync('/sys/class/net').filter(named),
    processes: listProcesses()
      .filter((p) => p.argv.some((arg) => named(arg) || arg.startsWith(`${trace.dir}/`)))
      .map((p) => `${p.pid} ${p.argv.join(' ')}`),
    execRoots: readdirSync('/run').filter(named),
    cgroups,
    mounts: [...mountsUnder(trace.dir), ...readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(named)],
    rules,
    certs: trace.certs.filter((address) => existsSync(join(CERTS_DIR, address))),
    folder: existsSync(trace.dir) ? [trace.dir] : [],
  };
}

export const NOTHING_LEFT = { namespaces: [], links: [], processes: [], execRoots: [], cgroups: [], mounts: [], rules: [], certs: [], folder: [] };
