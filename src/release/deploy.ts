/**
 * `berth deploy`: create or replace a service's instances in an environment
 * and wait until they are healthy — as a rollout of kind 'deploy' on Release's
 * journaled, locked executor (rollout/executor.ts). The image is recorded as a
 * release of the service (an existing one when image and settings match), so
 * `berth history` shows the deploy and `berth promote` can move it on. A
 * deploy has no front door: new slots first, the first replacement alone, the
 * rest together; a failure puts back what ran before (or removes what it
 * started), and a killed deploy is resumed by the next command on the service
 * and environment.
 */
import { conflict, forbidden } from '../errors.js';
import { currentRelease, frontDoorPort, releasesOf } from '../store/releases.js';
import { actor, configOf, recoverInterrupted, replicasIn, rollout, type RolloutOptions } from '../rollout/executor.js';
import { observe, placementOf, type InstanceEvent, type RolloutEvent } from '../rollout/rollout-context.js';
import { environmentOf, networkOf, serviceOf, type RunContext } from '../runtime/context.js';
import { resolveImage, type DeployImage } from '../runtime/image.js';
import { slotBody } from '../runtime/instance-spec.js';
import { deploySteps, planDeploy, type Step } from './deploy-plan.js';
import { dockerNetworkName } from '../network/docker-network.js';
import { observeService } from '../runtime/observe.js';
import { slotName } from '../runtime/slots.js';
import { requireHosts } from '../rollout/preflight.js';

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
  /** Called once the deploy's rollout is journaled (the server answers then); aborted: it stops and rolls back. */
  onJournaled?: (rollout: number) => void;
  signal?: AbortSignal;
  /** An admin of a Berth server asks: a deploy into a protected environment, which bypasses its approvals, is allowed only then. */
  privileged?: boolean;
  /** The lease's TTL, clock and holder (RolloutOptions.lease): a test plays another process with it. */
  lease?: RolloutOptions['lease'];
}

export type DeployEvent =
  | { type: 'note'; text: string }
  | { type: 'plan'; image: DeployImage; release: number; network: string; steps: Step[] }
  | Exclude<InstanceEvent, { type: 'ready' }>
  | { type: 'ready'; instance: InstanceReport; ms: number };

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
  /** The rollout that ran the deploy (also the instances' berth.deployment label). */
  deployment: number;
  /** The release the environment now runs. */
  release: number;
  service: string;
  environment: string;
  image: DeployImage;
  steps: Step[];
  instances: InstanceReport[];
  durationMs: number;
}

export async function deployService(context: RunContext, serviceName: string, environmentName: string, options: DeployOptions = {}): Promise<DeployResult> {
  const started = Date.now();
  const emit = options.onEvent ?? (() => {});
  const { project, db, hosts } = context;
  const service = serviceOf(project, serviceName);
  const environment = environmentOf(project, environmentName);
  if (environment.protected && options.privileged !== true) {
    throw forbidden(`${environment.name} is protected: a deploy there would bypass the approvals its promotions wait for`, {
      fix: `deploy there through a Berth server with an admin token, or release ${service.name} and promote it (a second token approves)`,
    });
  }
  await refuseFrontDoor(context, service.name, environment.name);
  await requireHosts(context, service.name, environment, `the deploy of ${service.name} to ${environment.name}`);
  const network = networkOf(project, environment);
  const dockerName = dockerNetworkName(project.name, network);
  const image = await resolveImage(project, hosts.buildEngine(), db, service, options.image);
  const rolloutOptions = {
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.onJournaled ? { onJournaled: options.onJournaled } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.lease ? { lease: options.lease } : {}),
    emit: (event: RolloutEvent) => {
      if (event.type === 'note') emit({ type: 'note', text: event.text });
    },
    report: (event: InstanceEvent) => emit(event.type === 'ready' ? { type: 'ready', instance: report(event, network.name, dockerName), ms: event.ms } : event),
  };
  await recoverInterrupted(context, service.name, environment.name, rolloutOptions);
  // A resumed rollout may have been a release through a front door.
  await refuseFrontDoor(context, service.name, environment.name);
  const previous = await currentRelease(db, service.name, environment.name) ?? null;
  const draft = { service: service.name, number: 0, image: image.name, imageId: image.id, digest: image.digest, repository: image.repository, config: configOf(service) };
  const existing = (await releasesOf(db, service.name)).find((r) => r.imageId === draft.imageId && r.digest === draft.digest && r.config === draft.config);
  let steps: Step[] = [];
  const result = await rollout(
    context,
    environment.name,
    {
      kind: 'deploy',
      release: existing ?? { ...draft, createdAt: 0, createdBy: actor(context.env), ...(context.configVersion !== undefined ? { configVersion: context.configVersion } : {}) },
      ...(existing ? {} : { recordNew: true }),
      previous,
      forced: false,
      plan: async (ctx) => {
        const replicas = await replicasIn(context, ctx.service, ctx.environment);
        const desired = [];
        for (let i = 0; i < replicas; i++) {
          const placement = placementOf(ctx, slotName(service.name, environment.name, i + 1));
          desired.push({ ...placement, specHash: slotBody(await ctx.target.input(placement)).specHash });
        }
        steps = planDeploy(desired, await observe(ctx), { force: options.force ?? false });
        emit({ type: 'plan', image, release: ctx.release.number, network: network.name, steps });
        return { target: ctx.release.number, phase: 'forward', steps: deploySteps(steps, replicas, { force: options.force ?? false }) };
      },
    },
    rolloutOptions,
  );
  const instances = await currentInstances(context, service.name, environment.name, network.name, dockerName);
  return { deployment: result.rollout, release: result.release, service: service.name, environment: environment.name, image, steps, instances, durationMs: Date.now() - started };
}

/** A service released through a front door is changed by Release's commands only, which keep its load balancer in step. */
async function refuseFrontDoor(context: RunContext, service: string, environment: string): Promise<void> {
  if (!await frontDoorPort(context.db, service, environment)) return;
  throw conflict(`${service} in ${environment} is released through a front door; "berth deploy" would leave its load balancer out of step`, {
    fix: `use berth release / promote / rollback / scale for ${service} in ${environment}`,
  });
}

/** What runs now, as the engine applied it: each slot's address, MAC and host ports. */
async function currentInstances(context: RunContext, service: string, environment: string, network: string, dockerName: string): Promise<InstanceReport[]> {
  const env = environmentOf(context.project, environment);
  const observed = (await observeService(context.hosts, env.hosts, context.project.name, service, environment)).filter((o) => o.role === 'main');
  const states = await Promise.all(observed.map(async (o) => ({ o, state: await context.hosts.engine(o.host).containers.inspect(o.id) })));
  return states
    .filter((s) => s.state !== undefined)
    .map(({ o, state }) => report({ slot: o.slot, host: o.host, id: o.id, state: state! }, network, dockerName))
    .sort((a, b) => a.slot.localeCompare(b.slot, 'en', { numeric: true }));
}

type Reported = { slot: string; host: string; id: string; state: { networks: Record<string, { ip: string; mac: string }>; ports: Record<string, number> } };

function report(l: Reported, network: string, dockerName: string): InstanceReport {
  const endpoint = l.state.networks[dockerName];
  return { slot: l.slot, host: l.host, id: l.id, network, ip: endpoint?.ip || null, mac: endpoint?.mac || null, ports: l.state.ports };
}
