/**
 * Hosts, networks, services, environments and the promotion pipeline, with
 * their defaults and the checks that span sections (a service's image exists,
 * an environment's network and hosts exist, ...).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BerthError, BerthErrors } from '../errors.js';
import { poolFromNetwork } from '../network/pool.js';
import { CANARY_DEFAULTS, DEFAULT_FAILURE, HEALTH_DEFAULTS, type CanarySettings, type FailureSettings, type EnvironmentSpec, type HealthCheck, type HealthTiming, type HostSpec, type ImageSpec, type NetworkSpec, type ServiceSecretRef, type ServiceSpec } from './model.js';
import type { ProblemList } from './problems.js';
import { hostSpecs } from './hosts-config.js';
import { environmentsShape, fleetShape, hostsShape, networksShape, pipelineShape, servicesShape } from './run-schema.js';
import { Checker } from './schema.js';
import { didYouMean } from './suggest.js';
import { frontDoorSettings, type RawFrontDoor } from './front-door-config.js';
import { nameCollisions } from './name-collisions.js';
import type { KeyPath, YamlSource } from './yaml-source.js';

export const DEFAULT_PIPELINE = ['dev', 'test', 'staging', 'canary', 'production'];

type RawFleet = NonNullable<ReturnType<typeof fleetShape>>;

interface RawRun {
  fleet?: unknown;
  hosts?: unknown;
  networks?: unknown;
  services?: unknown;
  environments?: unknown;
  pipeline?: unknown;
}

export interface RunConfig {
  hosts: HostSpec[];
  failure: FailureSettings;
  networks: Map<string, NetworkSpec>;
  services: Map<string, ServiceSpec>;
  environments: Map<string, EnvironmentSpec>;
  pipeline: string[];
}

export function runConfig(raw: RawRun, source: YamlSource, problems: ProblemList, dir: string, images: Map<string, ImageSpec>, env: NodeJS.ProcessEnv): RunConfig {
  const check = new Checker();
  const rawHosts = raw.hosts === undefined ? [] : (hostsShape(raw.hosts, ['hosts'], check) ?? []);
  const rawFleet = raw.fleet === undefined ? {} : (fleetShape(raw.fleet, ['fleet'], check) ?? {});
  const rawNetworks = raw.networks === undefined ? {} : (networksShape(raw.networks, ['networks'], check) ?? {});
  const rawServices = raw.services === undefined ? {} : (servicesShape(raw.services, ['services'], check) ?? {});
  const rawEnvironments = raw.environments === undefined ? undefined : environmentsShape(raw.environments, ['environments'], check);
  const rawPipeline = raw.pipeline === undefined ? undefined : pipelineShape(raw.pipeline, ['pipeline'], check);
  problems.addAll(source, check.problems);

  const hosts: HostSpec[] = hostSpecs(rawHosts, rawFleet, source, problems, dir, env);
  const failure = failureSettings(rawFleet.failure ?? {}, source, problems);

  const networks = new Map<string, NetworkSpec>([
    ['nat', { name: 'nat', mode: 'nat', reserved: [], macPrefix: '02:42', createBridge: false, quarantineMs: 0 }],
    ['host', { name: 'host', mode: 'host', reserved: [], macPrefix: '02:42', createBridge: false, quarantineMs: 0 }],
  ]);
  for (const [name, n] of Object.entries(rawNetworks)) {
    const path = ['networks', name];
    let complete = !check.problems.some((p) => p.path[0] === 'networks' && p.path[1] === name);
    if (n.mode === 'flat') {
      for (const key of ['bridge', 'subnet', 'gateway'] as const) {
        if (n[key] !== undefined) continue;
        problems.at(source, [...path, key], `a flat network needs "${key}"`, 'see docs/berth-yaml.md, "networks"');
        complete = false;
      }
    }
    networks.set(name, {
      name,
      mode: n.mode as NetworkSpec['mode'],
      ...(n.bridge ? { bridge: n.bridge } : {}),
      ...(n.subnet ? { subnet: n.subnet } : {}),
      ...(n.gateway ? { gateway: n.gateway } : {}),
      ...(n.range ? { range: n.range } : {}),
      reserved: n.reserved ?? [],
      macPrefix: (n.mac_prefix ?? '02:42').toLowerCase(),
      createBridge: n.create_bridge ?? false,
      quarantineMs: n.quarantine ?? 60_000,
    });
    // A flat network's pool is checked now, so a bad one fails at load with its line and key.
    if (n.mode === 'flat' && complete) checkPool(networks.get(name)!, hosts, source, problems);
  }

  const services = new Map<string, ServiceSpec>();
  for (const [name, s] of Object.entries(rawServices)) {
    const path = ['services', name];
    if (s.image !== undefined && !images.has(s.image)) {
      problems.at(source, [...path, 'image'], `unknown image "${s.image}"${didYouMean(s.image, images.keys())}`, `name an image of the hierarchy: ${[...images.keys()].join(', ')}`);
    }
    const configFiles = Object.entries(s.config ?? {}).map(([target, from]) => ({ source: isAbsolute(from) ? from : resolve(dir, from), target }));
    for (const file of configFiles) {
      if (!existsSync(file.source)) problems.at(source, [...path, 'config', file.target], `no such file: ${file.source}`, 'config paths are relative to the folder of berth.yaml');
    }
    const secrets = secretRefs(s.secrets, [...path, 'secrets'], dir, source, problems);
    // A bad value under health: is reported already; checking what is left would only add a misleading problem.
    const healthChecked = check.problems.some((p) => p.path[0] === 'services' && p.path[1] === name && p.path[2] === 'health');
    const health = healthChecked ? undefined : toHealth(s.health, s.ports ?? [], source, [...path, 'health'], problems);
    services.set(name, {
      name,
      image: s.image!,
      ...(s.command ? { command: s.command } : {}),
      ports: s.ports ?? [],
      env: s.env ?? {},
      configFiles,
      secrets,
      ...(health ? { health } : {}),
      resources: { ...(s.resources?.cpus ? { cpus: s.resources.cpus } : {}), ...(s.resources?.memory ? { memoryBytes: s.resources.memory } : {}) },
      restart: (s.restart as ServiceSpec['restart']) ?? 'unless-stopped',
      replicas: s.replicas ?? 1,
      ...(s.placement?.labels && Object.keys(s.placement.labels).length > 0 ? { placement: { labels: s.placement.labels } } : {}),
      stopGraceSeconds: Math.ceil((s.stop_grace ?? 10_000) / 1000),
      rollout: {
        batchSize: s.rollout?.batch_size ?? 1,
        maxUnavailable: s.rollout?.max_unavailable ?? 1,
        maxSurge: s.rollout?.max_surge ?? 0,
        drainMs: s.rollout?.drain ?? 10_000,
      },
      canary: toCanary(s.canary, source, [...path, 'canary'], problems),
    });
  }

  const pipeline = rawPipeline ?? (rawEnvironments ? Object.keys(rawEnvironments) : DEFAULT_PIPELINE);
  const environments = new Map<string, EnvironmentSpec>();
  const declared: Record<string, RawEnvironment> = rawEnvironments ?? Object.fromEntries(DEFAULT_PIPELINE.map((e) => [e, {}]));
  for (const [name, e] of Object.entries(declared)) {
    const path = ['environments', name];
    const envHosts = e.hosts ?? [hosts[0]!.name];
    for (const host of envHosts) {
      if (!hosts.some((h) => h.name === host)) problems.at(source, [...path, 'hosts'], `unknown host "${host}"${didYouMean(host, hosts.map((h) => h.name))}`, 'declare it under "hosts:"');
    }
    const network = e.network ?? 'nat';
    if (!networks.has(network)) problems.at(source, [...path, 'network'], `unknown network "${network}"${didYouMean(network, networks.keys())}`, `declare it under "networks:" or use one of: ${[...networks.keys()].join(', ')}`);
    for (const service of Object.keys(e.services ?? {})) {
      if (!services.has(service)) problems.at(source, [...path, 'services', service], `unknown service "${service}"${didYouMean(service, services.keys())}`, 'declare it under "services:"');
    }
    const overrides = Object.fromEntries(
      Object.entries(e.services ?? {}).map(([service, o]) => [
        service,
        {
          ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
          ...(o.env ? { env: o.env } : {}),
          ...(o.lb_port !== undefined ? { lbPort: o.lb_port } : {}),
          ...(o.secrets ? { secrets: secretRefs(o.secrets, [...path, 'services', service, 'secrets'], dir, source, problems) } : {}),
          ...(o.placement?.labels ? { placement: { labels: o.placement.labels } } : {}),
        },
      ]),
    );
    if (e.approval_timeout !== undefined && e.protected !== true) problems.at(source, [...path, 'approval_timeout'], 'applies only to a protected environment', 'add "protected: true" to this environment, or remove approval_timeout');
    else if (e.approval_timeout !== undefined && e.approval_timeout < MIN_APPROVAL_TIMEOUT_MS) problems.at(source, [...path, 'approval_timeout'], 'must be at least 1m: an approval needs time for a second person', 'use a duration like 30m, 24h or 3d');
    // A front_door whose shape is wrong was reported already; its settings are not looked at further.
    const doorShapeOk = !check.problems.some((p) => p.path[0] === 'environments' && p.path[1] === name && p.path[2] === 'front_door');
    const door = e.front_door && doorShapeOk ? frontDoorSettings(e.front_door, [...path, 'front_door'], hosts, networks.get(network)) : undefined;
    for (const p of door?.problems ?? []) problems.at(source, p.path, p.message, p.fix);
    // A member that does not hold the shared address must still run its doors, ready to take it: they listen on every address.
    if (door?.settings?.address !== undefined && e.lb_address !== undefined && e.lb_address !== '0.0.0.0') {
      problems.at(source, [...path, 'lb_address'], `the doors behind the shared address ${door.settings.address} listen on all their hosts' addresses, not on ${e.lb_address}`, 'remove lb_address (or set it to 0.0.0.0): clients use the shared address');
    }
    environments.set(name, {
      name,
      hosts: envHosts,
      network,
      services: overrides,
      // A door on other hosts listens on all their addresses unless lb_address says one: a shared address then works on whichever holds it.
      lbAddress: e.lb_address ?? (door?.settings ? '0.0.0.0' : '127.0.0.1'),
      ...(door?.settings ? { frontDoor: door.settings } : {}),
      protected: e.protected === true,
      approvalTimeoutMs: e.approval_timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    });
  }
  for (const c of nameCollisions([...services.keys()], [...environments.keys()])) {
    const name = c.what === 'slots' ? `slots "${c.name}-<n>"` : `front door "${c.name}"`;
    problems.at(
      source,
      ['services', c.second.service],
      `service "${c.second.service}" in environment "${c.second.environment}" and service "${c.first.service}" in environment "${c.first.environment}" would have the same ${name}`,
      'rename one of these services or environments so that no service-environment pair joins to the same name',
    );
  }
  for (const [index, stage] of pipeline.entries()) {
    if (!environments.has(stage)) problems.at(source, ['pipeline', index], `unknown environment "${stage}"${didYouMean(stage, environments.keys())}`, 'every stage of the pipeline must be an environment');
  }
  return { hosts, failure, networks, services, environments, pipeline };
}

/** `fleet.failure` with its defaults; settings that contradict each other are problems at their keys. */
function failureSettings(raw: NonNullable<RawFleet['failure']>, source: YamlSource, problems: ProblemList): FailureSettings {
  const settings: FailureSettings = {
    intervalMs: raw.interval ?? DEFAULT_FAILURE.intervalMs,
    timeoutMs: raw.timeout ?? DEFAULT_FAILURE.timeoutMs,
    suspectAfter: raw.suspect_after ?? DEFAULT_FAILURE.suspectAfter,
    downAfter: raw.down_after ?? DEFAULT_FAILURE.downAfter,
    settleMs: raw.settle ?? DEFAULT_FAILURE.settleMs,
    stopGraceMs: raw.stop_grace ?? DEFAULT_FAILURE.stopGraceMs,
  };
  const path = ['fleet', 'failure'];
  if (settings.intervalMs < 100) problems.at(source, [...path, 'interval'], `must be at least 100ms, got ${settings.intervalMs}ms`, 'a ping of every engine more often than ten times a second is load without a faster answer');
  if (settings.timeoutMs <= 0 || settings.timeoutMs > settings.intervalMs) {
    problems.at(source, [...path, raw.timeout !== undefined ? 'timeout' : 'interval'], `timeout (${settings.timeoutMs}ms) must be above 0 and at most the interval (${settings.intervalMs}ms)`, 'a ping must end before the next one starts');
  }
  if (settings.downAfter < settings.suspectAfter) {
    problems.at(source, [...path, raw.down_after !== undefined ? 'down_after' : 'suspect_after'], `down_after (${settings.downAfter}) must be at least suspect_after (${settings.suspectAfter})`, 'a host is suspect first, then down');
  }
  return settings;
}

/** A `secrets:` mapping (a service's or an environment's override): exactly one source each, files relative to berth.yaml. */
function secretRefs(raw: Record<string, RawSecretRef> | undefined, path: KeyPath, dir: string, source: YamlSource, problems: ProblemList): Record<string, ServiceSecretRef> {
  const secrets: Record<string, ServiceSecretRef> = {};
  for (const [secret, ref] of Object.entries(raw ?? {})) {
    if ('stored' in ref) {
      secrets[secret] = { stored: true };
      continue;
    }
    if (!ref.env === !ref.file) problems.at(source, [...path, secret], 'name exactly one of "env" or "file"', `e.g. ${secret}: { env: ${secret} }, or ${secret}: stored for a value set with \`berth secret set\``);
    secrets[secret] = { ...(ref.env ? { env: ref.env } : {}), ...(ref.file ? { file: isAbsolute(ref.file) ? ref.file : resolve(dir, ref.file) } : {}) };
  }
  return secrets;
}

/** Turns what poolFromNetwork rejects (range outside the subnet, a multicast mac_prefix, ...) into problems at their keys. */
function checkPool(spec: NetworkSpec, hosts: HostSpec[], source: YamlSource, problems: ProblemList): void {
  try {
    poolFromNetwork(spec, hosts);
  } catch (error) {
    if (!(error instanceof BerthError)) throw error;
    for (const problem of error instanceof BerthErrors ? error.problems : [error]) {
      const { path, message } = poolProblemAt(problem.message, spec.name);
      problems.at(source, path, message, problem.fix);
    }
  }
}

/** poolFromNetwork's messages start with "networks.<name>.<key>: " (or "<key>[<i>]"); that key becomes the problem's path. */
function poolProblemAt(message: string, network: string): { path: KeyPath; message: string } {
  const prefix = `networks.${network}.`;
  const match = message.startsWith(prefix) ? /^([a-z_]+)(?:\[(\d+)\])?: ([\s\S]*)$/.exec(message.slice(prefix.length)) : null;
  if (!match) return { path: ['networks', network], message };
  return { path: ['networks', network, match[1]!, ...(match[2] === undefined ? [] : [Number(match[2])])], message: match[3]! };
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 3_600_000;
const MIN_APPROVAL_TIMEOUT_MS = 60_000;

type RawSecretRef = { env?: string; file?: string } | { stored: true };

interface RawEnvironment {
  hosts?: string[];
  network?: string;
  services?: Record<string, { replicas?: number; env?: Record<string, string>; lb_port?: number; secrets?: Record<string, RawSecretRef>; placement?: { labels?: Record<string, string> } }>;
  lb_address?: string;
  front_door?: RawFrontDoor;
  protected?: boolean;
  approval_timeout?: number;
}

interface RawHealth {
  http?: string;
  tcp?: number;
  command?: string[];
  port?: number;
  interval?: number;
  timeout?: number;
  healthy_after?: number;
  unhealthy_after?: number;
  retries?: number;
  min_healthy?: number;
  start_period?: number;
}

function toHealth(h: RawHealth | undefined, ports: number[], source: YamlSource, path: (string | number)[], problems: ProblemList): HealthCheck | undefined {
  if (!h) return undefined;
  const kinds = [h.http, h.tcp, h.command].filter((k) => k !== undefined);
  if (kinds.length !== 1) {
    problems.at(source, path, 'a health check is exactly one of "http", "tcp" or "command"', 'e.g. health: { http: /healthz, port: 8080 }');
    return undefined;
  }
  const timing = healthTiming(h, source, path, problems);
  if (!timing) return undefined;
  if (h.http !== undefined) {
    const port = h.port ?? ports[0];
    if (port === undefined) {
      problems.at(source, [...path, 'port'], 'an HTTP health check needs a port', 'set "port:" here or "ports:" on the service');
      return undefined;
    }
    return { kind: 'http', path: h.http, port, ...timing };
  }
  if (h.tcp !== undefined) return { kind: 'tcp', port: h.tcp, ...timing };
  return { kind: 'command', command: h.command!, ...timing };
}

function healthTiming(h: RawHealth, source: YamlSource, path: (string | number)[], problems: ProblemList): HealthTiming | undefined {
  const before = problems.count;
  if (h.retries !== undefined && h.unhealthy_after !== undefined) {
    problems.at(source, [...path, 'retries'], 'retries is another name for unhealthy_after; give one of them', `keep unhealthy_after: ${h.unhealthy_after} and remove retries`);
  }
  const intervalMs = h.interval ?? HEALTH_DEFAULTS.intervalMs;
  if (intervalMs <= 0) problems.at(source, [...path, 'interval'], 'must be above 0', 'use a duration like 2s');
  const timeoutMs = h.timeout ?? Math.min(HEALTH_DEFAULTS.timeoutMs, Math.floor(intervalMs / 2));
  if (timeoutMs <= 0 && intervalMs > 0) problems.at(source, [...path, 'timeout'], 'must be above 0', 'use a duration like 1s');
  else if (timeoutMs >= intervalMs && intervalMs > 0) {
    problems.at(
      source,
      [...path, h.timeout === undefined ? 'interval' : 'timeout'],
      `timeout (${seconds(timeoutMs)}) must be shorter than interval (${seconds(intervalMs)}): a probe must end before the next one starts`,
      `set timeout below the interval (e.g. timeout: ${seconds(Math.max(1, Math.floor(intervalMs / 2)))}) or the interval above the timeout (e.g. interval: ${seconds(2 * timeoutMs)})`,
    );
  }
  if (problems.count > before) return undefined;
  return {
    intervalMs,
    timeoutMs,
    healthyAfter: h.healthy_after ?? HEALTH_DEFAULTS.healthyAfter,
    unhealthyAfter: h.unhealthy_after ?? h.retries ?? HEALTH_DEFAULTS.unhealthyAfter,
    minHealthyMs: h.min_healthy ?? HEALTH_DEFAULTS.minHealthyMs,
    startPeriodMs: h.start_period ?? HEALTH_DEFAULTS.startPeriodMs,
  };
}

interface RawCanary {
  watch?: number;
  min_requests?: number;
  tolerance?: number;
  inconclusive_limit?: number;
  max_error_rate?: unknown;
}

function toCanary(c: RawCanary | undefined, source: YamlSource, path: (string | number)[], problems: ProblemList): CanarySettings {
  if (c?.max_error_rate !== undefined) {
    problems.at(
      source,
      [...path, 'max_error_rate'],
      'max_error_rate (an absolute limit) is gone: a canary is now judged against the stable instances\' error rate over the same window',
      'replace it with tolerance: 5% (how many percentage points the canary\'s error rate may exceed the baseline\'s)',
    );
  }
  return {
    watchMs: c?.watch ?? CANARY_DEFAULTS.watchMs,
    minRequests: c?.min_requests ?? CANARY_DEFAULTS.minRequests,
    tolerance: c?.tolerance ?? CANARY_DEFAULTS.tolerance,
    inconclusiveLimit: c?.inconclusive_limit ?? CANARY_DEFAULTS.inconclusiveLimit,
  };
}

/** 1500 → "1.5s", 500 → "500ms". */
function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : ms > 1000 ? `${ms / 1000}s` : `${ms}ms`;
}
