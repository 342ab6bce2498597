/**
 * The names and addresses of a lab of engines (lab.ts), as plain data: one
 * LAN bridge on the machine, and per host a namespace, a veth pair, an exec-root
 * and a cgroup, all derived from the lab's id so a sweep can recognise them.
 */
import { randomInt } from 'node:crypto';
import { intToIp, parseSubnet, type Subnet } from '../network/addresses.js';

export interface LabHostPlan {
  /** h1, h2, …: the name a berth.yaml gives the host. */
  name: string;
  ip: string;
  netns: string;
  /** The veth end on the machine's LAN bridge, and its peer that moves into the namespace. */
  vethOutside: string;
  vethInside: string;
  /** dockerd's --exec-root: short, as unix socket paths under it are limited to 108 bytes. */
  execRoot: string;
  /** The cgroup (under every controller) the host's containers run in, so a sweep finds what a killed engine left. */
  cgroup: string;
}

export interface LabPlan {
  id: string;
  /** The LAN bridge on the machine, and the bridge inside every host namespace: the same name. */
  bridge: string;
  subnet: string;
  /** The Berth machine's address on the LAN bridge, also the hosts' default gateway. */
  gateway: string;
  hosts: LabHostPlan[];
}

/** Hosts take .11, .12, …; LAN namespaces count down from .250; the rest is free for the tests' instances. */
const FIRST_HOST = 11;
export const FIRST_LAN_HOST = 250;
export const MAX_HOSTS = 99;

export function planLab(id: string, subnet: string, count: number): LabPlan {
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error(`a lab id is 8 hex digits, not ${JSON.stringify(id)}`);
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new Error(`a lab has 1 to ${MAX_HOSTS} hosts, not ${count}`);
  const parsed = parseSubnet(subnet);
  if (!parsed || parsed.prefix !== 24) throw new Error(`a lab's subnet is a /24, not ${subnet}`);
  const at = (last: number) => intToIp(parsed.base + last);
  // Interface names are at most 15 characters: lb + 8 + h + 2.
  const bridge = `lb${id}`;
  const hosts = Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const stem = `berth-lab-${id}-${n}`;
    return { name: `h${n}`, ip: at(FIRST_HOST + i), netns: stem, vethOutside: `${bridge}h${n}`, vethInside: `${bridge}p${n}`, execRoot: `/run/${stem}`, cgroup: stem };
  });
  return { id, bridge, subnet, gateway: at(1), hosts };
}

/** The address `last` in a /24, e.g. addressIn('10.9.8.0/24', 100) = 10.9.8.100. */
export function addressIn(subnet: string, last: number): string {
  const parsed = parseSubnet(subnet);
  if (!parsed || last < 1 || last > 254) throw new Error(`no address .${last} in ${subnet}`);
  return intToIp(parsed.base + last);
}

/**
 * A random 10.240-250.x.0/24 that overlaps none of `taken` (routes, addresses, Docker networks).
 * Integration files pick their flat networks in 10.210-239 without looking (test-subnet.ts), so the
 * two pools never meet.
 */
export function pickFreeSubnet(taken: Subnet[], random: (min: number, max: number) => number = randomInt): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const candidate = `10.${random(240, 251)}.${random(0, 256)}.0/24`;
    const c = parseSubnet(candidate)!;
    if (!taken.some((t) => t.base <= c.broadcast && c.base <= t.broadcast)) return candidate;
  }
  throw new Error('no free /24 in 10.240.0.0-10.250.255.255');
}
