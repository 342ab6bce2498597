/**
 * The engine's create body for one slot of a service in an environment, as plain
 * data, with a hash of it: a running container whose hash matches is up to date.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../imaging/plan.js';
import type { HealthCheck, NetworkMode, ServiceSpec } from '../config/model.js';
import type { CreateBody } from '../engine/containers.js';
import { timingOf } from '../health/judge.js';
import { RUN_LABELS } from './labels.js';
import { enginePolicy, hashedPolicy } from './restart-policy.js';
import { containerName } from './slots.js';

export interface SlotNetwork {
  mode: NetworkMode;
  /** The Berth network's name in berth.yaml. */
  name: string;
  /** The Docker network's name ('host' for host mode). */
  dockerName: string;
  /** flat: the slot's static address and MAC from IPAM. */
  ip?: string;
  mac?: string;
}

export interface SlotInput {
  project: string;
  service: ServiceSpec;
  environment: string;
  /** The service's environment after the environment's overrides. */
  env: Record<string, string>;
  slot: string;
  host: string;
  /** `ref`: what the container is created from (the registry's digest reference once pushed); the image ID by default. */
  image: { id: string; digest: string; ref?: string };
  network: SlotNetwork;
  /** The engine's API version: MAC per endpoint from 1.44, per container before. */
  apiVersion: string;
  /** nat: "8080/tcp" → host port the slot keeps; missing ports are picked by the engine. */
  hostPorts: Record<string, number>;
  /** What the hash sees of the secrets and config files copied in before start (instance-files.ts); no bind mounts. */
  contents?: SlotContents;
  /** How many hosts the environment has (restart-policy.ts: with more than one, the engine restarts nothing); 1 unless set. */
  environmentHosts?: number;
}

/** A changed secret value or config file changes the spec hash, so the next rollout replaces the instances. */
export interface SlotContents {
  /** HMAC-SHA256 of the secrets' names and values with the project's key (secrets.ts), never a plain hash. */
  secretsMac?: string;
  /** Config target → its mode and the SHA-256 of its content. */
  configs?: Record<string, string>;
}

export interface SlotBody {
  body: CreateBody;
  specHash: string;
}

export function slotBody(input: SlotInput): SlotBody {
  const { service, network } = input;
  const portKeys = service.ports.map((p) => `${p}/tcp`);
  const env: Record<string, string> = {
    ...input.env,
    BERTH_SERVICE: service.name,
    BERTH_ENV: input.environment,
    BERTH_INSTANCE: input.slot,
    BERTH_HOSTNAME: input.slot,
    ...(network.ip ? { BERTH_IP: network.ip } : {}),
    ...(network.mac ? { BERTH_MAC: network.mac } : {}),
  };
  const perEndpointMac = apiAtLeast(input.apiVersion, '1.44');
  const body: CreateBody = {
    name: containerName(input.project, input.slot),
    // The engine refuses a hostname in the host's network namespace.
    ...(network.mode === 'host' ? {} : { Hostname: input.slot }),
    Image: input.image.ref ?? input.image.id,
    ...(service.command ? { Cmd: service.command } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [RUN_LABELS.project]: input.project,
      [RUN_LABELS.service]: service.name,
      [RUN_LABELS.environment]: input.environment,
      [RUN_LABELS.instance]: input.slot,
      [RUN_LABELS.host]: input.host,
      [RUN_LABELS.network]: network.name,
      [RUN_LABELS.digest]: input.image.digest,
    },
    ...(network.mode === 'host' ? {} : { ExposedPorts: Object.fromEntries(portKeys.map((k) => [k, {}])) }),
    StopTimeout: service.stopGraceSeconds,
    ...(network.mac && !perEndpointMac ? { MacAddress: network.mac } : {}),
    ...(service.health ? { Healthcheck: healthcheck(service.health) } : {}),
    HostConfig: {
      Init: true,
      NetworkMode: network.dockerName,
      RestartPolicy: { Name: enginePolicy(service.restart, input.environmentHosts ?? 1) },
      ...(service.resources.cpus ? { NanoCpus: Math.round(service.resources.cpus * 1e9) } : {}),
      ...(service.resources.memoryBytes ? { Memory: service.resources.memoryBytes } : {}),
      // IPv4 only: Docker 20.10 picks the IPv4 and IPv6 host ports of one binding separately, so a kept port could be taken on IPv6.
      ...(network.mode === 'nat'
        ? { PortBindings: Object.fromEntries(portKeys.map((k) => [k, [{ HostIp: '0.0.0.0', HostPort: input.hostPorts[k] ? String(input.hostPorts[k]) : '' }]])) }
        : {}),
    },
    ...(network.mode === 'host'
      ? {}
      : {
          NetworkingConfig: {
            EndpointsConfig: {
              [network.dockerName]: {
                ...(network.ip ? { IPAMConfig: { IPv4Address: network.ip } } : {}),
                ...(network.mac && perEndpointMac ? { MacAddress: network.mac } : {}),
                Aliases: [input.slot, service.name],
              },
            },
          },
        }),
  };
  // The hash names the image by its ID (the same image under its digest reference is no change) and berth.yaml's restart (restart-policy.ts).
  return { body, specHash: hashBody({ ...body, Image: input.image.id, HostConfig: { ...body.HostConfig, RestartPolicy: { Name: hashedPolicy(service.restart) } } }, input.contents) };
}

/** The hash ignores the host ports the engine picked, so a nat slot that keeps its ports stays up to date. */
function hashBody(body: CreateBody, contents: SlotContents | undefined): string {
  const { HostConfig, ...rest } = body;
  const { PortBindings, ...host } = (HostConfig ?? {}) as Record<string, unknown>;
  const ports = Object.keys((PortBindings as Record<string, unknown>) ?? {}).sort();
  return createHash('sha256').update(canonicalJson({ ...rest, HostConfig: host, ports, ...(contents ? { contents } : {}) })).digest('hex').slice(0, 16);
}

const NS_PER_MS = 1_000_000;

function healthcheck(h: HealthCheck): NonNullable<CreateBody['Healthcheck']> {
  const test =
    h.kind === 'http'
      ? ['CMD', '/opt/berth/bin/health', 'http', String(h.port), h.path]
      : h.kind === 'tcp'
        ? ['CMD', '/opt/berth/bin/health', 'tcp', String(h.port)]
        : ['CMD', ...h.command];
  // Releases recorded before the health keys were renamed carry `retries`: timingOf fills in what they lack.
  const t = timingOf(h);
  return {
    Test: test,
    Interval: t.intervalMs * NS_PER_MS,
    Timeout: t.timeoutMs * NS_PER_MS,
    Retries: t.unhealthyAfter,
    StartPeriod: t.startPeriodMs * NS_PER_MS,
  };
}

/** Compares "1.41"-style API versions. */
export function apiAtLeast(version: string, wanted: string): boolean {
  const [a1 = 0, a2 = 0] = version.split('.').map(Number);
  const [b1 = 0, b2 = 0] = wanted.split('.').map(Number);
  return a1 > b1 || (a1 === b1 && a2 >= b2);
}
