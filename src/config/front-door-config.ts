/**
 * An environment's `front_door: { hosts, address }` (pure): the fleet hosts
 * its doors run on, and for two or more the address they share through VRRP.
 * Each problem names its key; the address must be one the LAN can give to a
 * door and to nothing else.
 */
import { formatSubnet, inRange, inSubnet, parseIp, parseSubnet } from '../network/addresses.js';
import type { FrontDoorSettings, HostSpec, NetworkSpec } from './model.js';
import type { KeyPath } from './yaml-source.js';

export interface RawFrontDoor {
  hosts?: string[];
  address?: string;
}

export interface FrontDoorProblem {
  path: KeyPath;
  message: string;
  fix: string;
}

/** The settings, or the problems at their keys (under `path`, the environment's front_door). */
export function frontDoorSettings(raw: RawFrontDoor, path: KeyPath, hosts: readonly HostSpec[], network: NetworkSpec | undefined): { settings?: FrontDoorSettings; problems: FrontDoorProblem[] } {
  const problems: FrontDoorProblem[] = [];
  const at = (key: (string | number)[], message: string, fix: string) => problems.push({ path: [...path, ...key], message, fix });
  const names = raw.hosts ?? [];
  if (names.length === 0) at(['hosts'], 'name at least one host the doors run on', 'e.g. front_door: { hosts: [lb1, lb2], address: 10.88.0.250 }');
  names.forEach((name, i) => {
    if (!hosts.some((h) => h.name === name)) at(['hosts', i], `unknown host "${name}"`, `declare it under "hosts:", or use one of: ${hosts.map((h) => h.name).join(', ')}`);
    else if (names.indexOf(name) !== i) at(['hosts', i], `host "${name}" is named twice`, 'name each door host once');
  });
  if (raw.address === undefined) {
    if (names.length >= 2) at(['address'], `${names.length} door hosts share one address, and none is given`, 'add address: a free address of the LAN the door hosts are on, e.g. address: 10.88.0.250');
  } else if (names.length === 1) {
    at(['address'], 'a shared address needs two or more door hosts', 'add a second host to hosts, or remove address (one door listens on lb_address)');
  } else {
    problems.push(...addressProblems(raw.address, [...path, 'address'], hosts, network));
  }
  if (problems.length > 0) return { problems };
  return { settings: { hosts: [...names], ...(raw.address !== undefined ? { address: raw.address } : {}) }, problems };
}

/** In the LAN's subnet (a flat network's), and not an address a host, the gateway or an instance may have. */
function addressProblems(address: string, path: KeyPath, hosts: readonly HostSpec[], network: NetworkSpec | undefined): FrontDoorProblem[] {
  const ip = parseIp(address)!;
  const problem = (message: string, fix: string) => [{ path, message, fix }];
  const host = hosts.find((h) => h.address === address);
  if (host) return problem(`${address} is host ${host.name}'s own address`, 'use an address no machine has: the doors move it between them');
  if (network?.mode !== 'flat' || network.subnet === undefined) return [];
  const subnet = parseSubnet(network.subnet);
  if (!subnet) return [];
  if (!inSubnet(ip, subnet) || ip === subnet.base || ip === subnet.broadcast) {
    return problem(`${address} is not a host address of the LAN ${formatSubnet(subnet)} (network ${network.name})`, 'use a free address of that subnet, outside the instances\' range');
  }
  if (address === network.gateway) return problem(`${address} is the gateway of network ${network.name}`, 'use a free address of the subnet');
  const first = parseIp(network.range?.first ?? '') ?? subnet.base + 1;
  const last = parseIp(network.range?.last ?? '') ?? subnet.broadcast - 1;
  if (inRange(ip, first, last) && !network.reserved.includes(address)) {
    return problem(`${address} is in the range Berth gives instances of network ${network.name} (${network.range ? `${network.range.first}-${network.range.last}` : 'the whole subnet'})`, `use an address outside it, or list it under networks.${network.name}.reserved`);
  }
  return [];
}
