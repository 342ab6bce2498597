/** Pure IPv4 and MAC address math for IPAM. Addresses are unsigned 32-bit integers inside. */
import { invalid } from '../errors.js';

export interface Subnet {
  /** The network address. */
  base: number;
  prefix: number;
  /** The broadcast address. */
  broadcast: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as an integer, or undefined when it is not dotted-decimal IPv4 (no leading zeros). */
export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function ipToInt(text: string): number {
  const n = parseIp(text);
  if (n === undefined) throw invalid(`not an IPv4 address: ${JSON.stringify(text)}`, { fix: 'write it like 10.0.0.5' });
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "10.0.0.0/24" → its network and broadcast address; undefined when malformed. */
export function parseSubnet(text: string): Subnet | undefined {
  const [ip, bits, ...rest] = text.split('/');
  const base = parseIp(ip ?? '');
  const prefix = /^(\d|[12]\d|3[0-2])$/.test(bits ?? '') ? Number(bits) : undefined;
  if (base === undefined || prefix === undefined || rest.length > 0) return undefined;
  const hostBits = 2 ** (32 - prefix);
  const network = base - (base % hostBits);
  return { base: network, prefix, broadcast: network + hostBits - 1 };
}

/** True when the subnet text names its network address (10.0.0.0/24, not 10.0.0.5/24). */
export function isNetworkAddress(text: string): boolean {
  const subnet = parseSubnet(text);
  return subnet !== undefined && subnet.base === parseIp(text.split('/')[0]!);
}

export function formatSubnet(subnet: Subnet): string {
  return `${intToIp(subnet.base)}/${subnet.prefix}`;
}

export function inSubnet(ip: number, subnet: Subnet): boolean {
  return ip >= subnet.base && ip <= subnet.broadcast;
}

export function inRange(ip: number, first: number, last: number): boolean {
  return ip >= first && ip <= last;
}

export function* addressesIn(first: number, last: number): Generator<number> {
  for (let ip = first; ip <= last; ip++) yield ip;
}

export function compareIps(a: string, b: string): number {
  return ipToInt(a) - ipToInt(b);
}

/** Why a 2-byte MAC prefix is unusable for instances, or undefined when it is fine. */
export function macPrefixProblem(prefix: string): string | undefined {
  if (!/^[0-9a-f]{2}:[0-9a-f]{2}$/i.test(prefix)) return `expected two MAC bytes like "02:42", got ${JSON.stringify(prefix)}`;
  const first = parseInt(prefix.slice(0, 2), 16);
  // Bit 0 of the first byte marks multicast; bit 1 marks a locally administered (not vendor-assigned) address.
  if (first & 1) return `${prefix} is a multicast prefix (the lowest bit of the first byte is set)`;
  if (!(first & 2)) return `${prefix} is not locally administered (the second-lowest bit of the first byte is clear), so it may clash with real network cards`;
  return undefined;
}

/** The instance MAC for an address: the prefix, then the four IPv4 bytes, so IP ↔ MAC is 1:1. */
export function macFor(ip: string, prefix: string): string {
  const problem = macPrefixProblem(prefix);
  if (problem) throw invalid(`MAC prefix: ${problem}`, { fix: 'use a prefix whose second hex digit is 2, 6, a or e (locally administered, unicast), like 02:42' });
  const n = ipToInt(ip);
  const bytes = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'));
  return `${prefix.toLowerCase()}:${bytes.join(':')}`;
}
