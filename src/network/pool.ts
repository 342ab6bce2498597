/** A flat network's address pool, derived from its berth.yaml section and the hosts' own addresses. */
import type { HostSpec, NetworkSpec } from '../config/model.js';
import { BerthErrors, invalid, type BerthError } from '../errors.js';
import { formatSubnet, inSubnet, intToIp, isNetworkAddress, macPrefixProblem, parseIp, parseSubnet, type Subnet } from './addresses.js';

export interface Pool {
  network: string;
  subnet: string;
  gateway: string;
  /** The range Berth allocates from, inclusive. */
  first: string;
  last: string;
  /** Never given out: the gateway, the hosts' own addresses and networks.<name>.reserved, sorted. */
  reserved: string[];
  macPrefix: string;
  quarantineMs: number;
}

/**
 * Validates a flat network's addressing and returns its pool. The range defaults
 * to the subnet minus its network, broadcast and gateway addresses.
 * @example poolFromNetwork(project.networks.get('lan')!, project.hosts)
 */
export function poolFromNetwork(spec: NetworkSpec, hosts: HostSpec[]): Pool {
  const key = (name: string) => `networks.${spec.name}.${name}`;
  if (spec.mode !== 'flat') {
    throw invalid(`network "${spec.name}" is a ${spec.mode} network; only flat networks have an address pool`, { fix: `set ${key('mode')}: flat to give its instances LAN addresses` });
  }
  const subnet = spec.subnet === undefined ? undefined : parseSubnet(spec.subnet);
  if (!subnet) throw invalid(`${key('subnet')}: a flat network needs a subnet like 10.77.0.0/24, got ${JSON.stringify(spec.subnet)}`, { fix: "set it to the LAN's subnet" });

  const problems: BerthError[] = [];
  const problem = (name: string, message: string, fix: string) => problems.push(invalid(`${key(name)}: ${message}`, { fix }));
  const usable = (ip: number) => inSubnet(ip, subnet) && ip !== subnet.base && ip !== subnet.broadcast;
  const address = (name: string, text: string | undefined): number | undefined => {
    const ip = parseIp(text ?? '');
    if (ip === undefined) problem(name, `expected an IPv4 address like 10.77.0.1, got ${JSON.stringify(text)}`, `set ${key(name)}`);
    else if (!usable(ip)) problem(name, `${text} is not a host address of ${formatSubnet(subnet)}`, `use an address between ${span(subnet)}`);
    return ip;
  };

  if (!isNetworkAddress(spec.subnet!)) problem('subnet', `${spec.subnet} has host bits set`, `write the network address: ${formatSubnet(subnet)}`);
  if (subnet.prefix > 30) problem('subnet', `/${subnet.prefix} leaves no room for instances`, 'use a subnet of /30 or larger');
  const gateway = address('gateway', spec.gateway);
  const first = spec.range ? address('range', spec.range.first) : subnet.base + 1;
  const last = spec.range ? address('range', spec.range.last) : subnet.broadcast - 1;
  if (first !== undefined && last !== undefined && first > last) problem('range', `${intToIp(first)} comes after ${intToIp(last)}`, 'write the lower address first');
  const listed = spec.reserved.map((text, i) => address(`reserved[${i}]`, text));
  const prefixProblem = macPrefixProblem(spec.macPrefix);
  if (prefixProblem) problem('mac_prefix', prefixProblem, 'use a prefix whose second hex digit is 2, 6, a or e (locally administered, unicast), like 02:42');
  if (!(spec.quarantineMs >= 0)) problem('quarantine', `expected a duration of 0 or more, got ${spec.quarantineMs} ms`, 'e.g. quarantine: 60s');

  // A host on another segment has no address in this subnet, so there is nothing to reserve for it.
  const hostAddresses = hosts.map((h) => parseIp(h.address ?? '')).filter((ip): ip is number => ip !== undefined && inSubnet(ip, subnet));
  const reserved = [...new Set([gateway, ...listed, ...hostAddresses].filter((ip): ip is number => ip !== undefined))].sort((a, b) => a - b);
  if (problems.length === 0 && allocatableCount(first!, last!, reserved) === 0) {
    problem('range', `${intToIp(first!)}-${intToIp(last!)} has no address left once the gateway, hosts and reserved addresses are taken out`, 'widen the range');
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new BerthErrors(problems);

  return {
    network: spec.name,
    subnet: formatSubnet(subnet),
    gateway: intToIp(gateway!),
    first: intToIp(first!),
    last: intToIp(last!),
    reserved: reserved.map(intToIp),
    macPrefix: spec.macPrefix.toLowerCase(),
    quarantineMs: spec.quarantineMs,
  };
}

export function allocatableCount(first: number, last: number, reserved: readonly number[]): number {
  return Math.max(0, last - first + 1) - reserved.filter((ip) => ip >= first && ip <= last).length;
}

const span = (subnet: Subnet) => `${intToIp(subnet.base + 1)} and ${intToIp(subnet.broadcast - 1)}`;

/** The pools of every flat network of a project. */
export function projectPools(project: { networks: Map<string, NetworkSpec>; hosts: HostSpec[] }): Pool[] {
  return [...project.networks.values()].filter((n) => n.mode === 'flat').map((n) => poolFromNetwork(n, project.hosts));
}
