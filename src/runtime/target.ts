/**
 * Everything needed to launch slots of one service (at one image and one set
 * of settings) in one environment, read without changing anything: the
 * engines' API versions, the slots' saved placement and every slot's host
 * (planned once, placement.ts), the secrets. Shared by every rollout.
 * `input()` changes nothing; the secrets and config files read here are copied into a
 * container where an instance is launched (launch.ts), and only their digests
 * go into its spec hash. A rollout's plan reads whether the networks exist and which
 * addresses are stale (`hostsWithoutNetwork`, `staleAddresses`); its steps create and
 * reconcile them (`ensureNetworks`, `reconcileAddresses`).
 */
import type { EnvironmentSpec, NetworkSpec, ServiceSpec } from '../config/model.js';
import { dockerNetworkName, ensureNetwork, networkReadiness, type EnsureOptions } from '../network/docker-network.js';
import { isStale, type Ipam } from '../network/ipam.js';
import { allSlots, slotsOf, type SlotRecord } from '../store/deployments.js';
import { lostHosts } from './lost-hosts.js';
import { ipamOf, networkOf, serviceEnv, type RunContext } from './context.js';
import type { SlotInput } from './instance-spec.js';
import { observeNetwork } from './observe.js';
import { readConfigFiles, type InstanceFiles } from './instance-files.js';
import { gatherInventory, SlotPlacer, type PlacementOptions } from './placement.js';
import { readServiceSecrets, sharedSpecMacKey, slotContents } from './secrets.js';
import type { Placement } from './slots.js';

export type { PlacementOptions };

/** Addresses allocated this recently may belong to another deploy still creating its container. */
const RECONCILE_GRACE_MS = 10 * 60_000;

export interface ServiceTarget {
  context: RunContext;
  service: ServiceSpec;
  environment: EnvironmentSpec;
  network: NetworkSpec;
  dockerName: string;
  image: { id: string; digest: string; ref?: string };
  ipam: Ipam;
  /** Slot → its saved placement and kept host ports. */
  saved: Map<string, SlotRecord>;
  /** Every host that may hold an instance: the environment's and those slots were on, but for lost ones (lost-hosts.ts). */
  hostNames: Set<string>;
  /** Hosts down past their grace: never asked; the failover moves their slots. */
  lost: ReadonlySet<string>;
  /** Slots of the network recorded on lost hosts: their addresses are theirs still (never stale), whoever's service they are. */
  lostSlots: ReadonlySet<string>;
  /** The service's secret values in this environment and its config files, read once; copied into a container only when it is launched. */
  files: InstanceFiles;
  /** Every slot's host: slots 1..replicas planned when the target was prepared, others on demand. */
  placer: SlotPlacer;
  input(placement: Placement): Promise<SlotInput>;
}

/** Throws a conflict naming what is short on which hosts when the fleet cannot hold the slots, before anything changes. */
export async function prepareTarget(context: RunContext, service: ServiceSpec, environment: EnvironmentSpec, image: { id: string; digest: string; ref?: string }, options: PlacementOptions): Promise<ServiceTarget> {
  const { project, db, hosts } = context;
  const network = networkOf(project, environment);
  const files: InstanceFiles = { secrets: await readServiceSecrets(service, environment, context.env, { db, stateDir: project.stateDir }, project), configs: readConfigFiles(service, project) };
  const contents = files.secrets.size > 0 || files.configs.length > 0 ? slotContents(await sharedSpecMacKey(db, project.stateDir), files.secrets, files.configs) : undefined;
  const ipam = ipamOf(context);
  const dockerName = dockerNetworkName(project.name, network);
  const inventory = await gatherInventory(context, service, environment);
  const apiVersions = inventory.apiVersions;
  const saved = new Map((await slotsOf(db, service.name, environment.name)).map((s) => [s.slot, s]));
  // A slot on a lost host leaves it in any rollout, as in the failover (fleet/failover.ts): placed elsewhere
  // when there is room, a conflict naming the shortage before anything changes when not; never launched there.
  const lost = await lostHosts(context);
  const placer = new SlotPlacer(inventory, service, environment, saved, lost.size === 0 ? options : { ...options, leave: new Set([...(options.leave ?? []), ...lost]) });
  const hostNames = new Set([...environment.hosts, ...[...saved.values()].map((s) => s.host)].filter((h) => !lost.has(h)));
  const lostSlots = new Set(lost.size === 0 ? [] : (await allSlots(db)).filter((s) => lost.has(s.host) && s.network === network.name).map((s) => s.slot));
  const env = serviceEnv(service, environment);
  return {
    context,
    service,
    environment,
    network,
    dockerName,
    image,
    ipam,
    saved,
    hostNames,
    lost,
    lostSlots,
    files,
    placer,
    async input(p) {
      const own = network.mode === 'flat' ? (await ipam.allocations(network.name)).find((a) => a.slot === p.slot) : undefined;
      return {
        project: project.name,
        service,
        environment: environment.name,
        env,
        slot: p.slot,
        host: p.host,
        image,
        network: { mode: network.mode, name: network.name, dockerName, ...(own ? { ip: own.ip, mac: own.mac } : {}) },
        apiVersion: apiVersions.get(p.host) ?? '1.41',
        // A slot keeps its published ports on its own host; on another host (a move) they may be taken.
        hostPorts: saved.get(p.slot)?.host === p.host ? (saved.get(p.slot)?.hostPorts ?? {}) : {},
        ...(contents ? { contents } : {}),
        environmentHosts: environment.hosts.length,
      };
    },
  };
}

/** The environment's Docker network on each of `only` (default: all its hosts), created or checked: by the rollout's `networks` step. */
export async function ensureNetworks(target: ServiceTarget, only: readonly string[] = target.environment.hosts.filter((h) => !target.lost.has(h))): Promise<void> {
  const { hosts, project } = target.context;
  await Promise.all(only.map((h) => ensureNetwork(hosts.engine(h), project.name, target.network, networkOptions(target, h))));
}

/** The environment's hosts whose engine lacks its Docker network, reading only (one that differs from berth.yaml is a conflict, as ensureNetworks would say). */
export async function hostsWithoutNetwork(target: ServiceTarget): Promise<string[]> {
  const { hosts, project } = target.context;
  const states = await Promise.all(target.environment.hosts.filter((h) => !target.lost.has(h)).map(async (h) => [h, await networkReadiness(hosts.engine(h), project.name, target.network, networkOptions(target, h))] as const));
  return states.filter(([, state]) => state === 'missing').map(([h]) => h);
}

function networkOptions(target: ServiceTarget, host: string): EnsureOptions {
  const { hosts } = target.context;
  const address = hosts.spec(host).address;
  return { local: hosts.isLocal(host), ...(address ? { hostAddress: address } : {}) };
}

/**
 * IPAM reconciliation of a flat network: addresses whose slot has no container
 * (on the hosts that may hold one) go into quarantine. Run by the rollout's
 * `addresses` step, under its lease; returns the released addresses.
 */
export async function reconcileAddresses(target: ServiceTarget): Promise<string[]> {
  const { network, context, ipam } = target;
  if (network.mode !== 'flat') return [];
  const live = await observeNetwork(context.hosts, target.hostNames, context.project.name, network.name);
  return (await ipam.reconcile(network.name, new Set([...live.map((o) => o.slot), ...target.lostSlots]), { graceMs: RECONCILE_GRACE_MS })).released;
}

/** The addresses `reconcileAddresses` would quarantine now, reading only. */
export async function staleAddresses(target: ServiceTarget, now = Date.now()): Promise<string[]> {
  const { network, context, ipam } = target;
  if (network.mode !== 'flat') return [];
  const live = new Set([...(await observeNetwork(context.hosts, target.hostNames, context.project.name, network.name)).map((o) => o.slot), ...target.lostSlots]);
  return (await ipam.allocations(network.name)).filter((a) => isStale(a, live, now, RECONCILE_GRACE_MS)).map((a) => a.ip);
}
