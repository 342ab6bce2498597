/**
 * The Docker network behind each berth.yaml network. nat: a user-defined
 * bridge network with port mapping. flat: a bridge network on the operator's
 * named Linux bridge with masquerading off, so instances keep their static
 * IP and MAC on the LAN. host: the host's own namespace, nothing to create.
 */
import { existsSync } from 'node:fs';
import type { NetworkSpec } from '../config/model.js';
import type { Engine } from '../engine/client.js';
import type { IpamPool, NetworkCreateBody, NetworkState } from '../engine/networks.js';
import { conflict, invalid, isBerthError, notFound } from '../errors.js';

const BRIDGE_NAME = 'com.docker.network.bridge.name';
const MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
const DEFAULT_GATEWAY = 'DefaultGatewayIPv4';

export interface EnsureOptions {
  /** The engine runs on this machine, so its Linux bridges can be checked here. */
  local: boolean;
  /** The engine host's own address on a flat network's bridge (hosts[].address). */
  hostAddress?: string;
}

export function dockerNetworkName(project: string, spec: NetworkSpec): string {
  if (spec.mode === 'host') return 'host';
  return `berth-${project}-${spec.name}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** The engine's create body for a nat or flat network (pure). */
export function networkCreateBody(project: string, spec: NetworkSpec, hostAddress?: string): NetworkCreateBody {
  if (spec.mode === 'host') throw invalid(`network ${spec.name}: host mode uses the host's network namespace; there is no Docker network to create`);
  const base = { Name: dockerNetworkName(project, spec), Driver: 'bridge', Labels: { 'berth.project': project, 'berth.network': spec.name }, CheckDuplicate: true as const };
  if (spec.mode === 'nat') return base;
  const { bridge, subnet, gateway } = spec;
  if (!bridge || !subnet || !gateway) throw invalid(`network ${spec.name}: a flat network needs bridge, subnet and gateway`, { fix: 'add them to the network in berth.yaml' });
  // No IPRange: it only bounds the engine's own picks, Berth's IPAM always passes an explicit
  // address (any address in the subnet is accepted), and a first–last range is rarely one CIDR.
  // Docker 20.10 puts the pool's Gateway on the Linux bridge, replacing the bridge's first
  // address. With the host's own address as Gateway the bridge keeps it; the containers
  // still route through the LAN's router, named as the driver's DefaultGatewayIPv4.
  const pool: IpamPool =
    hostAddress && hostAddress !== gateway ? { Subnet: subnet, Gateway: hostAddress, AuxiliaryAddresses: { [DEFAULT_GATEWAY]: gateway } } : { Subnet: subnet, Gateway: gateway };
  return { ...base, Options: { [BRIDGE_NAME]: bridge, [MASQUERADE]: 'false' }, IPAM: { Driver: 'default', Config: [pool] } };
}

/** How an existing network differs from the body Berth would create, one sentence each (pure). */
export function networkDrift(body: NetworkCreateBody, existing: NetworkState): string[] {
  const differences: string[] = [];
  const compare = (what: string, has: string | undefined, wants: string | undefined) => {
    if (wants !== undefined && has !== wants) differences.push(`${what}: the network has ${has ?? 'none'}, berth.yaml wants ${wants}`);
  };
  const pool = body.IPAM?.Config[0];
  compare('driver', existing.driver, body.Driver);
  compare('Linux bridge', existing.options[BRIDGE_NAME], body.Options?.[BRIDGE_NAME]);
  compare('IP masquerading', masquerading(existing.options), masquerading(body.Options ?? {}));
  compare('subnet', existing.subnet, pool?.Subnet);
  compare('gateway', existing.gateway, pool?.Gateway);
  compare("containers' default gateway", existing.auxAddresses[DEFAULT_GATEWAY], pool?.AuxiliaryAddresses?.[DEFAULT_GATEWAY]);
  compare('berth.project label', existing.labels['berth.project'], body.Labels['berth.project']);
  return differences;
}

/** Creates the project's Docker network for `spec`, or reuses a matching one. */
export async function ensureNetwork(engine: Engine, project: string, spec: NetworkSpec, options: EnsureOptions): Promise<{ name: string; created: boolean }> {
  if (spec.mode === 'host') return { name: 'host', created: false };
  const body = networkCreateBody(project, spec, options.hostAddress);
  const existing = await engine.networks.inspect(body.Name);
  if (existing) return reuse(body, existing);
  if (spec.mode === 'flat') checkFlatPrerequisites(spec, body.Name, options);
  try {
    await engine.networks.create(body);
    return { name: body.Name, created: true };
  } catch (error) {
    // Another process may have created it between the inspect and the create.
    const raced = isBerthError(error) && error.kind === 'conflict' ? await engine.networks.inspect(body.Name) : undefined;
    if (!raced) throw error;
    return reuse(body, raced);
  }
}

/**
 * Whether the engine has the network (`present`) or lacks it (`missing`), reading only: one that
 * differs from berth.yaml is a conflict, and a flat one that could not be created is refused, as
 * `ensureNetwork` would refuse them, so a rollout stops before it journals anything.
 */
export async function networkReadiness(engine: Engine, project: string, spec: NetworkSpec, options: EnsureOptions): Promise<'present' | 'missing'> {
  if (spec.mode === 'host') return 'present';
  const body = networkCreateBody(project, spec, options.hostAddress);
  const existing = await engine.networks.inspect(body.Name);
  if (existing) {
    reuse(body, existing);
    return 'present';
  }
  if (spec.mode === 'flat') checkFlatPrerequisites(spec, body.Name, options);
  return 'missing';
}

/** Removes a Docker network (its containers must be gone); an absent one is fine. */
export async function removeNetwork(engine: Engine, name: string): Promise<void> {
  if (name !== 'host') await engine.networks.remove(name);
}

function reuse(body: NetworkCreateBody, existing: NetworkState): { name: string; created: boolean } {
  const differences = networkDrift(body, existing);
  if (differences.length === 0) return { name: body.Name, created: false };
  throw conflict(`Docker network ${body.Name} exists but does not match berth.yaml: ${differences.join('; ')}`, {
    fix: `remove it with "docker network rm ${body.Name}" after removing its containers, or change berth.yaml to match it`,
  });
}

function checkFlatPrerequisites(spec: NetworkSpec, name: string, options: EnsureOptions): void {
  const bridge = spec.bridge!;
  if (spec.createBridge) return; // Docker's bridge driver creates a missing named bridge itself, on remote engines too.
  if (options.local && !existsSync(`/sys/class/net/${bridge}`)) {
    throw notFound(`network ${name}: Linux bridge ${bridge} does not exist on this host`, {
      fix: `create it ("ip link add ${bridge} type bridge && ip link set ${bridge} up") and move the host's LAN address onto it, or set create_bridge: true for a lab`,
    });
  }
  if (options.local && !existsSync(`/sys/class/net/${bridge}/bridge`)) {
    throw invalid(`network ${name}: ${bridge} on this host is not a Linux bridge`, { fix: 'name a bridge in berth.yaml ("ip -d link show type bridge" lists them)' });
  }
  if (!options.hostAddress) {
    throw invalid(`network ${name}: Berth needs this host's own address on bridge ${bridge}, or the engine would replace the bridge's address with the LAN gateway ${spec.gateway}`, {
      fix: `set address: for this host in berth.yaml (its IPv4 address on ${bridge})`,
    });
  }
}

function masquerading(options: Record<string, string>): string {
  return /^(false|f|0)$/i.test(options[MASQUERADE] ?? 'true') ? 'off' : 'on';
}
