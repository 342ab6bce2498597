/** What the engines run for a service in an environment, read from Berth's labels. */
import type { ContainerSummary } from '../engine/containers.js';
import type { Hosts } from './hosts.js';
import { RUN_LABELS } from './labels.js';
import { roleOf } from './slots.js';

/** One of Berth's containers as an engine reports it: what the deploy planner compares with what should run. */
export interface ObservedInstance {
  id: string;
  /** The container's name. */
  name: string;
  /** Its slot's own container, one set aside by a replace, or a stray (see slots.ts roleOf). */
  role: 'main' | 'aside' | 'stray';
  /** Its slot label. */
  slot: string;
  host: string;
  running: boolean;
  restarting: boolean;
  exitCode: number;
  specHash: string;
}

export interface Observed extends ObservedInstance {
  labels: Record<string, string>;
  status: string;
}

export async function observeService(hosts: Hosts, hostNames: Iterable<string>, project: string, service: string, environment: string): Promise<Observed[]> {
  const filters = [`${RUN_LABELS.project}=${project}`, `${RUN_LABELS.service}=${service}`, `${RUN_LABELS.environment}=${environment}`];
  return observe(hosts, hostNames, filters);
}

/** Every container of the project on one Berth network: the live slots IPAM reconciles against. */
export async function observeNetwork(hosts: Hosts, hostNames: Iterable<string>, project: string, network: string): Promise<Observed[]> {
  return observe(hosts, hostNames, [`${RUN_LABELS.project}=${project}`, `${RUN_LABELS.network}=${network}`]);
}

async function observe(hosts: Hosts, hostNames: Iterable<string>, filters: string[]): Promise<Observed[]> {
  const perHost = await Promise.all(
    [...new Set(hostNames)].map(async (host) => (await hosts.engine(host).containers.summaries(filters)).map((c) => toObserved(host, c))),
  );
  return perHost.flat();
}

function toObserved(host: string, c: ContainerSummary): Observed {
  const exit = /^Exited \((-?\d+)\)/.exec(c.status);
  const slot = c.labels[RUN_LABELS.instance] ?? '';
  return {
    id: c.id,
    name: c.name,
    role: roleOf(c.labels[RUN_LABELS.project] ?? '', slot, c.name),
    slot,
    host,
    running: c.state === 'running',
    restarting: c.state === 'restarting',
    exitCode: exit ? Number(exit[1]) : 0,
    specHash: c.labels[RUN_LABELS.spec] ?? '',
    labels: c.labels,
    status: c.status,
  };
}
