/**
 * The FakeEngine's networks: bridge, host and none from the start, user networks as Docker
 * creates them (a /16 from 172.18.0.0 up when the body names no subnet, the first address
 * as gateway), and addresses handed to containers as the default IPAM does.
 */
import type { EngineNetworks } from '../engine/engine.js';
import type { NetworkCreateBody, NetworkState } from '../engine/networks.js';
import { formatSubnet, intToIp, ipToInt, parseSubnet, type Subnet } from '../network/addresses.js';
import { hexId, labelsMatch, refusal, type FakeCore } from './fake-engine-core.js';

export interface FakeNetwork extends NetworkState {
  /** bridge, host, none: the engine's own; they take no static address. */
  builtin: boolean;
  /** Whether the subnet came from the create body (Docker takes a static IP only on such a network). */
  userSubnet: boolean;
}

const BUILTIN: FakeNetwork[] = [
  { id: hexId('network/bridge'), name: 'bridge', driver: 'bridge', options: {}, subnet: '172.17.0.0/16', gateway: '172.17.0.1', auxAddresses: {}, labels: {}, builtin: true, userSubnet: false },
  { id: hexId('network/host'), name: 'host', driver: 'host', options: {}, auxAddresses: {}, labels: {}, builtin: true, userSubnet: false },
  { id: hexId('network/none'), name: 'none', driver: 'null', options: {}, auxAddresses: {}, labels: {}, builtin: true, userSubnet: false },
];

export class FakeNetworks implements EngineNetworks {
  readonly #all = new Map<string, FakeNetwork>(BUILTIN.map((n) => [n.id, { ...n }]));
  #created = 0;

  constructor(
    private readonly core: FakeCore,
    /** Whether a running container holds an endpoint on the network (Docker refuses to remove it then). */
    private readonly inUse: (networkId: string) => boolean,
  ) {}

  inspect(name: string): Promise<NetworkState | undefined> {
    return this.core.answer(`inspect network ${name}`, () => {
      const n = this.find(name);
      return n ? stateOf(n) : undefined;
    });
  }

  create(body: NetworkCreateBody): Promise<string> {
    return this.core.answer(`create network ${body.Name}`, () => {
      if (this.find(body.Name)?.name === body.Name) throw refusal(409, `network with name ${body.Name} already exists`);
      const pool = body.IPAM?.Config[0];
      const subnet = pool ? parseSubnet(pool.Subnet) : this.#freeSubnet();
      if (!subnet) throw refusal(400, `invalid subnet ${pool?.Subnet ?? ''}`);
      const overlapping = [...this.#all.values()].find((n) => n.subnet && overlaps(parseSubnet(n.subnet)!, subnet));
      if (overlapping) throw refusal(403, `Pool overlaps with other one on this address space`);
      const id = hexId(`network/${body.Name}/${++this.#created}/${Date.now()}`);
      const network: FakeNetwork = {
        id,
        name: body.Name,
        driver: body.Driver,
        options: { ...body.Options },
        subnet: formatSubnet(subnet),
        gateway: pool?.Gateway ?? intToIp(subnet.base + 1),
        ...(pool?.IPRange ? { ipRange: pool.IPRange } : {}),
        auxAddresses: { ...pool?.AuxiliaryAddresses },
        labels: { ...body.Labels },
        builtin: false,
        userSubnet: pool !== undefined,
      };
      this.#all.set(id, network);
      this.core.emit('network', 'create', id, { name: body.Name, type: body.Driver });
      return id;
    });
  }

  remove(name: string): Promise<void> {
    return this.core.answer(`remove network ${name}`, () => {
      const n = this.find(name);
      if (!n) return;
      if (n.builtin) throw refusal(403, `${n.name} is a pre-defined network and cannot be removed`);
      if (this.inUse(n.id)) throw refusal(403, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      this.#all.delete(n.id);
      this.core.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  list(labels: string[]): Promise<NetworkState[]> {
    return this.core.answer('list networks', () => [...this.#all.values()].filter((n) => labelsMatch(labels, n.labels)).map(stateOf));
  }

  /** By name, ID or a unique ID prefix, as the engine looks networks up. */
  find(ref: string): FakeNetwork | undefined {
    const all = [...this.#all.values()];
    const exact = all.find((n) => n.name === ref || n.id === ref);
    if (exact) return exact;
    const prefixed = all.filter((n) => n.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  /**
   * The address a starting container gets: its static one (which must be in the subnet and free), or
   * the lowest free one after the gateway inside the IP range. Throws the engine's refusal.
   */
  address(network: FakeNetwork, wanted: string | undefined, taken: Set<string>): string {
    const subnet = parseSubnet(network.subnet ?? '');
    if (!subnet) return '';
    const reserved = new Set([network.gateway, ...Object.values(network.auxAddresses)]);
    if (wanted) {
      const ip = ipToInt(wanted);
      if (ip <= subnet.base || ip >= subnet.broadcast) throw refusal(500, `Invalid address ${wanted}: It does not belong to any of this network's subnets`);
      if (taken.has(wanted) || reserved.has(wanted)) throw refusal(500, `Address already in use`);
      return wanted;
    }
    const range = network.ipRange ? parseSubnet(network.ipRange)! : subnet;
    for (let ip = Math.max(range.base, subnet.base + 1); ip < Math.min(range.broadcast + 1, subnet.broadcast); ip++) {
      const text = intToIp(ip);
      if (!taken.has(text) && !reserved.has(text)) return text;
    }
    throw refusal(500, `no available IPv4 addresses on this network's address pools: ${network.name} (${network.id})`);
  }

  #freeSubnet(): Subnet {
    for (let second = 18; second < 32; second++) {
      const candidate = parseSubnet(`172.${second}.0.0/16`)!;
      if (![...this.#all.values()].some((n) => n.subnet && overlaps(parseSubnet(n.subnet)!, candidate))) return candidate;
    }
    throw refusal(500, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }
}

function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base <= b.broadcast && b.base <= a.broadcast;
}

function stateOf(n: FakeNetwork): NetworkState {
  return {
    id: n.id,
    name: n.name,
    driver: n.driver,
    options: { ...n.options },
    ...(n.subnet ? { subnet: n.subnet } : {}),
    ...(n.gateway ? { gateway: n.gateway } : {}),
    ...(n.ipRange ? { ipRange: n.ipRange } : {}),
    auxAddresses: { ...n.auxAddresses },
    labels: { ...n.labels },
  };
}
