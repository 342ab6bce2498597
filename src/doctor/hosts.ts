/**
 * `berth doctor`'s checks of the fleet: each host's engine answers with API
 * 1.41 or newer, hosts reached over plain tcp:// are warned about, and each flat
 * network's bridge is looked for where Berth can look (this machine only).
 */
import { existsSync } from 'node:fs';
import type { Engine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { compareVersions, MIN_API, type Check } from './checks.js';

export interface DoctorHost {
  name: string;
  /** unix://… or tcp://… as berth.yaml has it. */
  endpoint: string;
  engine: Engine;
  /** Reached over plain tcp:// (insecure: true, or no TLS material). */
  plainTcp: boolean;
  /** On this machine (unix://): its bridges are this machine's. */
  local: boolean;
}

export async function hostChecks(hosts: readonly DoctorHost[]): Promise<Check[]> {
  const answers = await Promise.all(hosts.map(engineCheck));
  return [...answers, ...hosts.filter((h) => h.plainTcp).map(insecureCheck)];
}

async function engineCheck(host: DoctorHost): Promise<Check> {
  const name = `host ${host.name}`;
  try {
    const v = await host.engine.version();
    if (compareVersions(v.apiVersion, MIN_API) >= 0) return { name, status: 'ok', detail: `Docker Engine ${v.version} at ${host.endpoint}, API ${v.apiVersion}` };
    return { name, status: 'fail', detail: `Docker Engine ${v.version} at ${host.endpoint} speaks API ${v.apiVersion}, Berth needs ${MIN_API} or newer`, fix: `upgrade the engine on ${host.name}` };
  } catch (error) {
    return {
      name,
      status: 'fail',
      detail: `unreachable: ${isBerthError(error) || error instanceof Error ? error.message : String(error)}`,
      fix: `start the engine on ${host.name} or restore the network to ${host.endpoint}; "berth hosts" shows every host's state`,
    };
  }
}

export function insecureCheck(host: DoctorHost): Check {
  return {
    name: `host ${host.name} tls`,
    status: 'warn',
    detail: `${host.endpoint} is plain tcp:// without TLS: anyone who can reach that port is root on ${host.name}`,
    fix: `give ${host.name} tls: {ca, cert, key} (or fleet.tls) and run its dockerd with --tlsverify; see docs/hosts.md`,
  };
}

/** A flat network's bridge: present on this machine's hosts or not; on remote hosts Berth cannot see interfaces, and says so. */
export function bridgeCheck(
  network: { name: string; bridge: string; createBridge: boolean },
  hosts: readonly Pick<DoctorHost, 'name' | 'local'>[],
  exists: (bridge: string) => boolean = bridgeExists,
): Check {
  const { bridge } = network;
  const local = hosts.filter((h) => h.local).map((h) => h.name);
  const remote = hosts.filter((h) => !h.local).map((h) => h.name);
  const name = `bridge ${bridge}`;
  const unchecked = remote.length > 0 ? `; not checked on ${remote.join(', ')}: Berth sees only this machine's interfaces, so make sure "${bridge}" exists there (ip link show ${bridge})` : '';
  const here = local.length === 0 ? '' : exists(bridge) ? `: ${bridge} is on this machine (${local.join(', ')})` : network.createBridge ? `: ${bridge} is not on this machine yet (create_bridge: Docker creates it)` : '';
  if (local.length > 0 && here === '') {
    return {
      name,
      status: 'fail',
      detail: `flat network ${network.name}'s bridge ${bridge} is not on this machine (${local.join(', ')})${unchecked}`,
      fix: `create it (ip link add ${bridge} type bridge) or set networks.${network.name}.bridge to this machine's LAN bridge`,
    };
  }
  return { name, status: remote.length > 0 ? 'warn' : 'ok', detail: `flat network ${network.name}${here}${unchecked}` };
}

function bridgeExists(bridge: string): boolean {
  return existsSync(`/sys/class/net/${bridge}`);
}
