/** berth.yaml `hosts:`, `networks:`, `services:`, `environments:` and `pipeline:` (Run, Release). */
import { bool, cidr, command, duration, envMap, int, ipv4, list, mapOf, object, optional, portNumber, required, serviceSecretRef, size, str, withoutReservedNames, type Validator } from './schema.js';

const NAME = { pattern: /^[a-z0-9][a-z0-9-]*$/, hint: 'a name of lowercase letters, digits and -' };
const ENV_NAME = { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'a valid environment variable name' };

/** Secrets become environment variables of the service (the entrypoint exports /run/secrets/<name>). */
const SECRET_NAME = {
  pattern: ENV_NAME.pattern,
  hint: 'a valid secret name: each secret becomes the environment variable of its name',
  fix: 'use letters, digits and _ only, not starting with a digit, like DB_PASSWORD',
};

/** Where a config file is copied in the container (a tar entry's name, so no ".." step and not a folder). */
const CONFIG_TARGET = {
  pattern: /^(?!.*\/\.\.?(?:\/|$))\/.*[^/]$/,
  hint: 'an absolute path of a file inside the container, without "." or ".." steps',
  fix: 'write the container path as the key and the file as its value, like /etc/app/app.conf: config/app.conf',
};

const port = portNumber();

/** `placement: { labels: { rack: r1 } }`: the labels (of `hosts[].labels`) a host must carry to run the service. */
const placement = object({
  labels: optional(mapOf(str(), { pattern: /^[A-Za-z0-9][A-Za-z0-9._/-]*$/, hint: 'a label name of letters, digits, ".", "_", "/" and "-"', fix: 'use a name like rack or zone' })),
});

/** An engine address; ssh:// is named on its own so the user learns what to use instead. */
const engineAddress: Validator<string> = (value, path, check) => {
  if (typeof value === 'string' && value.startsWith('ssh://')) {
    return check.report(path, `ssh:// engines are not supported yet ("${value}")`, 'run dockerd with --tlsverify on tcp://<host>:2376 and give the host "tls: { ca, cert, key }" (see docs/hosts.md)');
  }
  return str({ pattern: /^(unix:\/\/\/.+|tcp:\/\/[^/]+)$/, hint: 'an engine address like unix:///var/run/docker.sock or tcp://10.0.0.2:2376' })(value, path, check);
};

/** Mutual TLS with a tcp:// engine: PEM files, relative to berth.yaml. */
export const tlsShape = object({
  ca: required(str()),
  cert: required(str()),
  key: required(str()),
});

/** The engine's unix socket on the host itself (the warden mounts it), not on the Berth machine. */
const ENGINE_SOCKET = {
  pattern: /^\/(?!.*\/\.\.?(?:\/|$))[^:\s]*[^/:\s]$/,
  hint: "an absolute path of the engine's unix socket on that host (dockerd's -H unix://PATH there), without \".\" or \"..\" steps, \":\" or spaces",
};

const LABEL_KEY = { pattern: /^[A-Za-z0-9][A-Za-z0-9._/-]*$/, hint: 'a label name of letters, digits and . _ / -' };

export const hostsShape = list(
  object({
    name: required(str(NAME)),
    engine: optional(engineAddress),
    socket: optional(str(ENGINE_SOCKET)),
    address: optional(ipv4()),
    tls: optional(tlsShape),
    insecure: optional(bool()),
    labels: optional(mapOf(str({ nonEmpty: false }), LABEL_KEY)),
  }),
);

/** Settings every host shares unless it has its own. */
export const fleetShape = object({
  tls: optional(tlsShape),
  failure: optional(
    object({
      interval: optional(duration()),
      timeout: optional(duration()),
      suspect_after: optional(int({ min: 1, max: 100 })),
      down_after: optional(int({ min: 1, max: 100 })),
      settle: optional(duration()),
      stop_grace: optional(duration()),
    }),
  ),
});

const ipRange: Validator<{ first: string; last: string }> = (value, path, check) => {
  const parts = typeof value === 'string' ? value.split('-').map((p) => p.trim()) : [];
  const first = parts.length === 2 ? ipv4()(parts[0], path, check) : undefined;
  const last = parts.length === 2 ? ipv4()(parts[1], path, check) : undefined;
  if (parts.length !== 2) return check.report(path, `expected a range like "10.77.0.100-10.77.0.199", got ${JSON.stringify(value)}`);
  return first && last ? { first, last } : undefined;
};

export const networksShape = mapOf(
  object({
    mode: required(str({ pattern: /^(nat|flat|host)$/, hint: 'one of nat, flat, host' })),
    bridge: optional(str({ pattern: /^[a-zA-Z0-9_.-]{1,15}$/, hint: 'a Linux interface name (at most 15 characters)' })),
    subnet: optional(cidr()),
    gateway: optional(ipv4()),
    range: optional(ipRange),
    reserved: optional(list(ipv4())),
    mac_prefix: optional(str({ pattern: /^[0-9a-f]{2}:[0-9a-f]{2}$/i, hint: 'two MAC bytes like "02:42" (locally administered, unicast)' })),
    create_bridge: optional(bool()),
    quarantine: optional(duration()),
  }),
  NAME,
);

/** A duration of 0 or more; a negative one gets its own message, since "-5s" is a likely slip. */
const nonNegativeDuration = (): Validator<number> => (value, path, check) => {
  if (typeof value === 'string' && value.trim().startsWith('-')) return check.report(path, `must not be negative, got "${value}"`, 'use 0s for none, or a duration like 30s');
  return duration()(value, path, check);
};

/** How many probes in a row: 1 or more (0 would judge an instance without a single probe). */
const probeCount = (): Validator<number> => (value, path, check) => {
  if (typeof value === 'number' && Number.isInteger(value) && value < 1) {
    return check.report(path, `must be at least 1, got ${value}: an instance is judged on at least one probe`, `use 1 to judge on a single probe, or more (the default of unhealthy_after is 3)`);
  }
  return int({ min: 1, max: 100 })(value, path, check);
};

const health = object({
  http: optional(str({ pattern: /^\//, hint: 'an HTTP path like /healthz' })),
  tcp: optional(port),
  command: optional(command()),
  port: optional(port),
  interval: optional(duration()),
  timeout: optional(duration()),
  healthy_after: optional(probeCount()),
  unhealthy_after: optional(probeCount()),
  /** The engine's name for unhealthy_after, accepted as an alias. */
  retries: optional(probeCount()),
  min_healthy: optional(nonNegativeDuration()),
  start_period: optional(nonNegativeDuration()),
});

export const servicesShape = mapOf(
  object({
    image: required(str()),
    command: optional(command()),
    ports: optional(list(port)),
    env: optional(envMap()),
    // Container path → file on the machine running Berth: the key is the path inside the container (it was the value that was checked).
    config: optional(mapOf(str(), CONFIG_TARGET)),
    secrets: optional(withoutReservedNames(mapOf(serviceSecretRef(), SECRET_NAME), 'secret')),
    health: optional(health),
    resources: optional(object({ cpus: optional((v, p, c) => (typeof v === 'number' && v > 0 ? v : c.report(p, 'expected a number of CPUs above 0, like 0.5'))), memory: optional(size()) })),
    restart: optional(str({ pattern: /^(no|always|unless-stopped|on-failure)$/, hint: 'one of no, always, unless-stopped, on-failure' })),
    replicas: optional(int({ min: 0, max: 1000 })),
    placement: optional(placement),
    stop_grace: optional(duration()),
    rollout: optional(
      object({
        batch_size: optional(int({ min: 1, max: 1000 })),
        max_unavailable: optional(int({ min: 0, max: 1000 })),
        max_surge: optional(int({ min: 0, max: 100 })),
        drain: optional(duration()),
      }),
    ),
    canary: optional(
      object({
        watch: optional(duration()),
        min_requests: optional(int({ min: 0, max: 1_000_000 })),
        tolerance: optional(percent()),
        inconclusive_limit: optional(probeCount()),
        /** Gone (an absolute limit); kept in the shape so run-config.ts can say what replaced it. */
        max_error_rate: optional((value) => value),
      }),
    ),
  }),
  NAME,
);

/** "5%", "0.5%" or a fraction like 0.05 → a fraction. */
function percent(): Validator<number> {
  return (value, path, check) => {
    const text = String(value).trim();
    const n = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : typeof value === 'number' ? value : NaN;
    if (!(n >= 0 && n <= 1)) return check.report(path, `expected percentage points like "5%" or 0.05, got ${JSON.stringify(value)}`);
    return n;
  };
}

export const environmentsShape = mapOf(
  object({
    hosts: optional(list(str(NAME))),
    network: optional(str(NAME)),
    services: optional(
      mapOf(
        object({
          replicas: optional(int({ min: 0, max: 1000 })),
          env: optional(envMap()),
          lb_port: optional(port),
          secrets: optional(withoutReservedNames(mapOf(serviceSecretRef(), SECRET_NAME), 'secret')),
          placement: optional(placement),
        }),
        NAME,
      ),
    ),
    lb_address: optional(ipv4()),
    front_door: optional(object({ hosts: optional(list(str(NAME))), address: optional(ipv4()) })),
    protected: optional(bool()),
    approval_timeout: optional(duration()),
  }),
  NAME,
);

export const pipelineShape = list(str(NAME));
