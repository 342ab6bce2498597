/**
 * `berth deploy`: reconcile what runs with what should, then create or replace
 * the service's instances in an environment and wait until they are healthy.
 * A replaced container is only set aside (stopped, renamed) until the whole
 * deploy succeeds; if any instance fails, every change is undone and the
 * previous instances serve again.
 */
import { allRefs, protectDigest, releaseDigest } from '../store/refs.js';
import { finishDeployment, saveSlot, startDeployment } from '../store/deployments.js';
import { Semaphore } from '../build/semaphore.js';
import { conflict } from '../errors.js';
import { frontDoorPort } from '../store/releases.js';
import { environmentOf, ipamOf, networkOf, replicasOf, serviceOf, type RunContext } from './context.js';
import { resolveImage, type DeployImage } from './image.js';
import { slotBody } from './instance-spec.js';
import { failure, launchSlot, LaunchError, restore, setAside, type Launched } from './launch.js';
import { observeService } from './observe.js';
import { planDeploy, type DesiredInstance, type Step } from './plan.js';
import { removeInstance } from './remove.js';
import { placeSlots } from './slots.js';
import { prepareTarget } from './target.js';

export interface DeployOptions {
  /** An image ID, a registry digest Berth pushed, or a tag; default: the current build. */
  image?: string;
  /** How long each instance may take to become healthy. */
  timeoutMs?: number;
  /** Replace instances even when they are up to date. */
  force?: boolean;
  /** Parallel container launches. */
  concurrency?: number;
  onEvent?: (event: DeployEvent) => void;
}

export type DeployEvent =
  | { type: 'reconcile'; released: string[] }
  | { type: 'plan'; image: DeployImage; network: string; steps: Step[] }
  | { type: 'launch'; slot: string; action: 'create' | 'replace' }
  | { type: 'ready'; instance: InstanceReport; ms: number }
  | { type: 'failed'; slot: string; reason: string }
  | { type: 'undo'; slot: string; what: string }
  | { type: 'removed'; slot: string; reason: string };

export interface InstanceReport {
  slot: string;
  host: string;
  id: string;
  network: string;
  ip: string | null;
  mac: string | null;
  /** "8080/tcp" → host port (nat). */
  ports: Record<string, number>;
}

export interface DeployResult {
  deployment: number;
  service: string;
  environment: string;
  image: DeployImage;
  steps: Step[];
  instances: InstanceReport[];
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

export async function deployService(context: RunContext, serviceName: string, environmentName: string, options: DeployOptions = {}): Promise<DeployResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const { project, db, hosts } = context;
  const service = serviceOf(project, serviceName);
  const environment = environmentOf(project, environmentName);
  if (frontDoorPort(db, service.name, environment.name)) {
    throw conflict(`${service.name} in ${environment.name} is released through a front door; "berth deploy" would leave its load balancer out of step`, {
      fix: `use berth release / promote / rollback / scale for ${service.name} in ${environment.name}`,
    });
  }
  const network = networkOf(project, environment);
  const firstEngine = hosts.engine(environment.hosts[0]!);
  const image = await resolveImage(project, firstEngine, db, service, options.image);
  const target = await prepareTarget(context, service, environment, { id: image.id, digest: image.digest });
  const { ipam, dockerName, saved, hostNames } = target;
  if (target.released.length > 0) emit({ type: 'reconcile', released: target.released });

  const placements = placeSlots(service.name, environment.name, replicasOf(service, environment), environment.hosts, new Map([...saved].map(([slot, s]) => [slot, s.host])));
  const inputs = new Map(placements.map((p) => [p.slot, target.input(p)]));
  const desired: DesiredInstance[] = placements.map((p) => ({ ...p, specHash: slotBody(inputs.get(p.slot)!).specHash }));
  const observed = await observeService(hosts, hostNames, project.name, service.name, environment.name);
  const steps = planDeploy(desired, observed, { force: options.force ?? false });
  emit({ type: 'plan', image, network: network.name, steps });

  const deployment = startDeployment(db, {
    service: service.name,
    environment: environment.name,
    image: image.name,
    imageId: image.id,
    digest: image.digest,
    repository: image.repository,
    replicas: placements.length,
    network: network.name,
  });
  const networkRef = { mode: network.mode, name: network.name };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  // Leftovers of an interrupted deploy go first: they hold their slot's name.
  const removals = steps.filter((s): s is Extract<Step, { action: 'remove' }> => s.action === 'remove');
  const [leftovers, surplus] = partition(removals, (s) => s.leftover);
  for (const step of leftovers) {
    await hosts.engine(step.host).containers.remove(step.id);
    emit({ type: 'removed', slot: step.slot, reason: step.reason });
  }

  const launches = steps.filter((s): s is Extract<Step, { action: 'create' | 'replace' }> => s.action === 'create' || s.action === 'replace');
  const setAsideIds = new Map<string, { host: string; id: string }>();
  const launched: Launched[] = [];
  let firstFailure: LaunchError | undefined;
  const launchOne = async (step: (typeof launches)[number]) => {
    if (firstFailure) return;
    emit({ type: 'launch', slot: step.slot, action: step.action });
    if (step.action === 'replace') {
      await setAside(hosts.engine(step.host), step.id, step.slot, service.stopGraceSeconds);
      setAsideIds.set(step.slot, { host: step.host, id: step.id });
    }
    try {
      const done = await launchSlot({ context, ipam, input: inputs.get(step.slot)!, deployment, timeoutMs });
      launched.push(done);
      emit({ type: 'ready', instance: report(done, network.name, dockerName), ms: done.ms });
    } catch (error) {
      const e = LaunchError.from(step.slot, error);
      firstFailure ??= e;
      emit({ type: 'failed', slot: step.slot, reason: e.reason });
    }
  };
  // The first replacement goes alone: if the new version cannot start, only one slot was touched.
  const [replacements, creations] = partition(launches, (s) => s.action === 'replace');
  if (replacements.length > 0) await launchOne(replacements[0]!);
  const semaphore = new Semaphore(options.concurrency ?? 16);
  await Promise.all([...replacements.slice(1), ...creations].map((step) => semaphore.run(() => launchOne(step))));

  if (firstFailure) {
    await undo(context, launched, setAsideIds, networkRef, emit);
    const error = failure(`deploy of ${service.name} to ${environment.name}`, firstFailure);
    finishDeployment(db, deployment, 'failed', `${error.message}: ${firstFailure.reason}`);
    throw error;
  }

  for (const { host, id } of setAsideIds.values()) await hosts.engine(host).containers.remove(id);
  for (const step of surplus) {
    await removeInstance(context, ipam, { host: step.host, id: step.id, slot: step.slot, environment: environment.name, network: networkRef, graceSeconds: service.stopGraceSeconds });
    emit({ type: 'removed', slot: step.slot, reason: step.reason });
  }

  const instances = await currentInstances(context, steps, launched, network.name, dockerName);
  for (const p of placements) {
    const instance = instances.find((i) => i.slot === p.slot);
    saveSlot(db, { environment: environment.name, slot: p.slot, service: service.name, ordinal: p.ordinal, host: p.host, network: network.name, hostPorts: instance?.ports ?? {} });
  }
  recordDeployedDigest(context, service.name, environment.name, image);
  finishDeployment(db, deployment, 'succeeded');
  return { deployment, service: service.name, environment: environment.name, image, steps, instances, durationMs: Date.now() - started };
}

/** Removes every new container and puts every set-aside one back. */
async function undo(context: RunContext, launched: Launched[], setAsideIds: Map<string, { host: string; id: string }>, network: { mode: string; name: string }, emit: (e: DeployEvent) => void): Promise<void> {
  const ipam = ipamOf(context);
  for (const done of launched) {
    await context.hosts.engine(done.host).containers.remove(done.id);
    if (!setAsideIds.has(done.slot) && network.mode === 'flat') ipam.releaseAddress(network.name, done.slot);
    emit({ type: 'undo', slot: done.slot, what: 'removed the new instance' });
  }
  for (const [slot, { host, id }] of setAsideIds) {
    await restore(context.hosts.engine(host), ipam, id, slot, network);
    emit({ type: 'undo', slot, what: 'restarted the previous instance' });
  }
}

/** Kept instances are inspected again; launched ones report what the engine applied. */
async function currentInstances(context: RunContext, steps: Step[], launched: Launched[], network: string, dockerName: string): Promise<InstanceReport[]> {
  const kept = await Promise.all(
    steps
      .filter((s) => s.action === 'keep')
      .map(async (s) => {
        const state = await context.hosts.engine(s.host).containers.inspect(s.id);
        return state ? report({ slot: s.slot, host: s.host, id: s.id, state, ms: 0 }, network, dockerName) : undefined;
      }),
  );
  return [...kept.filter((k): k is InstanceReport => k !== undefined), ...launched.map((l) => report(l, network, dockerName))].sort((a, b) =>
    a.slot.localeCompare(b.slot, 'en', { numeric: true }),
  );
}

function report(l: Launched, network: string, dockerName: string): InstanceReport {
  const endpoint = l.state.networks[dockerName];
  return { slot: l.slot, host: l.host, id: l.id, network, ip: endpoint?.ip || null, mac: endpoint?.mac || null, ports: l.state.ports };
}

/** The digest this environment runs is protected from registry GC; the one it ran before no longer is (Release keeps rollback ones). */
function recordDeployedDigest(context: RunContext, service: string, environment: string, image: DeployImage): void {
  const { db } = context;
  db.transaction(() => {
    for (const ref of allRefs(db)) {
      if (ref.kind === 'deployed' && ref.service === service && ref.environment === environment && ref.digest !== image.digest) releaseDigest(db, ref);
    }
    if (image.repository !== '') protectDigest(db, { repository: image.repository, digest: image.digest, kind: 'deployed', environment, service, note: `deployed to ${environment}` });
  })();
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((i) => !test(i))];
}
