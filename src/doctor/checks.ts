/**
 * `berth doctor`: what Berth relies on, each with its fix. A check that is
 * "fail" blocks Berth's main job; "warn" limits a later capability.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { locateProgram } from '../supervisor/program.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorInput {
  engine: Engine;
  env: NodeJS.ProcessEnv;
  /** Folders whose free space matters (state dir, cache). */
  folders: string[];
  /** The project bootstraps Debian roots, so a bootstrap tool is required. */
  needsBootstrap: boolean;
}

const GB = 1e9;
export const MIN_API = '1.41';

export async function runChecks(input: DoctorInput): Promise<Check[]> {
  const checks: Check[] = [];
  let dockerRoot: string | undefined;
  try {
    const version = await input.engine.version();
    const apiOk = compareVersions(version.apiVersion, MIN_API) >= 0;
    checks.push({
      name: 'engine',
      status: apiOk ? 'ok' : 'fail',
      detail: `Docker Engine ${version.version} at ${input.engine.endpoint}, API ${version.apiVersion}${compareVersions(version.apiVersion, '1.44') >= 0 ? ' (per-endpoint MAC addresses)' : ' (container-level MAC addresses)'}`,
      ...(apiOk ? {} : { fix: `upgrade the engine to API ${MIN_API} or newer (Debian bookworm's docker.io is 1.41)` }),
    });
    const info = await input.engine.info();
    dockerRoot = info.dockerRootDir;
    checks.push({ name: 'cgroups', status: 'ok', detail: `cgroup v${info.cgroupVersion}, driver ${info.cgroupDriver}; storage driver ${info.storageDriver}` });
    checks.push(
      info.initBinary || existsSync('/usr/bin/docker-init')
        ? { name: 'init', status: 'ok', detail: 'the engine has an init (docker-init) for images without tini' }
        : { name: 'init', status: 'warn', detail: 'the engine reports no init binary', fix: 'apt-get install tini, or install tini in your root image' },
    );
    checks.push(
      info.ipv4Forwarding
        ? { name: 'ip forwarding', status: 'ok', detail: 'IPv4 forwarding is on (bridge networks reach the LAN)' }
        : { name: 'ip forwarding', status: 'warn', detail: 'IPv4 forwarding is off: containers on bridge networks cannot reach beyond the host', fix: 'sysctl -w net.ipv4.ip_forward=1' },
    );
  } catch (error) {
    checks.push({
      name: 'engine',
      status: 'fail',
      detail: isBerthError(error) ? error.message : String(error),
      fix: isBerthError(error) && error.fix ? error.fix : 'start the Docker Engine: "npm run setup" or "dockerd &"',
    });
  }

  checks.push(cgroupCheck());
  checks.push(toolCheck('ip', ['ip'], 'warn', 'flat networks and test LANs need iproute2', 'apt-get install iproute2'));
  checks.push(toolCheck('iptables', ['iptables'], 'warn', 'the engine programs NAT with iptables', 'apt-get install iptables'));
  checks.push(
    toolCheck('bootstrap', ['mmdebstrap', 'debootstrap'], input.needsBootstrap ? 'fail' : 'warn', 'Debian roots are bootstrapped with mmdebstrap or debootstrap', 'apt-get install mmdebstrap'),
  );
  checks.push(toolCheck('tar', ['tar'], 'fail', 'rootfs tarballs are made with tar', 'apt-get install tar'));
  checks.push(toolCheck('registry', ['docker-registry'], 'warn', 'the embedded registry (berth registry up) is Debian\'s docker-registry', 'apt-get install docker-registry'));
  checks.push(toolCheck('git', ['git'], 'warn', 'image labels record the project\'s git revision', 'apt-get install git'));

  for (const folder of new Set([...input.folders, ...(dockerRoot ? [dockerRoot] : [])])) checks.push(diskCheck(folder));
  return checks;
}

function cgroupCheck(): Check {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/);
    const missing = ['cpu', 'memory', 'pids'].filter((c) => !controllers.includes(c));
    return missing.length === 0
      ? { name: 'cgroup controllers', status: 'ok', detail: `cgroup v2 with ${controllers.join(', ')}` }
      : { name: 'cgroup controllers', status: 'warn', detail: `cgroup v2 without ${missing.join(', ')}: resource limits on services will not apply`, fix: 'enable the controllers in the parent cgroup (cgroup.subtree_control)' };
  }
  return existsSync('/sys/fs/cgroup/memory')
    ? { name: 'cgroup controllers', status: 'ok', detail: 'cgroup v1 with memory' }
    : { name: 'cgroup controllers', status: 'warn', detail: 'no cgroup memory controller found', fix: 'boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)' };
}

function toolCheck(name: string, commands: string[], severity: CheckStatus, why: string, fix: string): Check {
  const found = commands.find((command) => locateProgram(command) !== undefined);
  return found
    ? { name, status: 'ok', detail: `${found} found` }
    : { name, status: severity, detail: `${commands.join(' or ')} not found: ${why}`, fix };
}

function diskCheck(folder: string): Check {
  let at = folder;
  while (!existsSync(at) && at !== '/') at = join(at, '..');
  const stat = statfsSync(at);
  const free = stat.bavail * stat.bsize;
  const detail = `${(free / GB).toFixed(1)} GB free at ${folder}`;
  if (free < 1 * GB) return { name: 'disk', status: 'fail', detail, fix: `free space on the file system of ${folder} (docker image prune, or remove old caches)` };
  if (free < 5 * GB) return { name: 'disk', status: 'warn', detail, fix: 'a Debian root with a JDK needs about 1 GB per build; free some space' };
  return { name: 'disk', status: 'ok', detail };
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
