/** The validated project, as plain data. Everything downstream reads only this. */

export interface DebianRoot {
  kind: 'debian';
  suite: string;
  variant: string;
  packages: string[];
  mirror: string;
}

export interface TarballRoot {
  kind: 'tarball';
  /** Absolute path of the rootfs tarball. */
  path: string;
}

export type RootSpec = DebianRoot | TarballRoot;

export interface AppSpec {
  /** Absolute path of the app's files (a folder or one file). */
  path: string;
  /** Where they land in the image. */
  dest: string;
}

export interface ImageSettings {
  from?: string;
  root?: RootSpec;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: string[];
  workdir?: string;
  user?: string;
  app?: AppSpec;
  command?: string[];
}

export interface ImageSpec extends ImageSettings {
  name: string;
  /** Absolute path of images/<name>/. */
  dir: string;
  /** The file its settings came from (berth.yaml or image.yaml), for messages. */
  settingsFile: string;
  hasRuntime: boolean;
  hasStatic: boolean;
}

export interface BuildSettings {
  concurrency: number;
  /** Package mirror handed to static.sh as BERTH_MIRROR and used to bootstrap roots. */
  mirror: string;
  /** Proxy settings, passed as the engine's predefined proxy build args (kept out of image history). */
  proxy: { http?: string; https?: string; noProxy?: string };
  sourceDateEpoch?: number;
}

export interface Project {
  name: string;
  /** Absolute folder holding berth.yaml. */
  dir: string;
  /** Absolute path of berth.yaml. */
  file: string;
  images: Map<string, ImageSpec>;
  build: BuildSettings;
  /** Where Berth keeps its store and caches for this project. */
  stateDir: string;
  registry: RegistrySettings;
  retention: RetentionSettings;
  hosts: HostSpec[];
  /** How the server tells a failed host (`fleet.failure`). */
  failure: FailureSettings;
  networks: Map<string, NetworkSpec>;
  services: Map<string, ServiceSpec>;
  environments: Map<string, EnvironmentSpec>;
  /** The promotion order of environments (dev → … → production by default). */
  pipeline: string[];
  /** Set when a server loaded it: what it may read on the server's machine (readable-files.ts). Unset: the CLI reads what its user can. */
  readable?: ReadableFiles;
}

/** What a configuration loaded by a server may read on its machine, besides its own folder (the bundle berth apply uploaded). */
export interface ReadableFiles {
  /** Folders the server's operator allowed: `berth server --allow-read DIR`. */
  allowed: readonly string[];
  /** The server's state directory: never read (its keys, its store), but for the configuration's own folder in it. */
  stateDir: string;
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/** Where a secret's value comes from; read at use, never stored, logged or put in an image. */
export interface SecretRef {
  env?: string;
  /** Absolute path. */
  file?: string;
}

/**
 * A service's secret: from the environment or a file, or `stored`: the value
 * `berth secret set` stored (encrypted) for the service in the environment being deployed.
 */
export type ServiceSecretRef = SecretRef | { stored: true };

export type RegistryStorage =
  | { kind: 'filesystem'; path: string }
  | { kind: 's3'; endpoint: string; bucket: string; region: string; accessKey: SecretRef; secretKey: SecretRef; rootDirectory?: string };

export interface RegistrySettings {
  /** host:port the registry listens on; 127.0.0.1:5000 by default. */
  listen: string;
  storage: RegistryStorage;
  /** Shared http.secret, so replicas behind one address agree; generated into the state dir when unset. */
  secret?: SecretRef;
  /** Absolute path of an htpasswd file; with it, the registry requires basic auth. */
  htpasswd?: string;
  /**
   * The registry's certificate and key; `ca` is what clients and engines trust (tls.ca, else the certificate itself).
   * `generated`: Berth made them (a CA and a server certificate under <state dir>/registry/tls/), for a listen address
   * other machines reach when berth.yaml names no certificate, or for `tls: generate`.
   */
  tls?: { cert: string; key: string; ca?: string; generated?: boolean };
  /** Credentials Berth uses when htpasswd is on. */
  username?: string;
  password?: SecretRef;
}

export interface RetentionSettings {
  /** Keep this many most recent builds of each image. */
  keepLast: number;
  /** Keep builds younger than this (milliseconds). */
  keepYoungerThanMs: number;
  /** Per service and environment, the releases before the current one kept for rollback (protected from GC). */
  keepReleases: number;
}

/** How Berth judges an instance's health (src/health/judge.ts); the engine's HEALTHCHECK is built from the same settings, for `docker ps` only. */
export interface HealthTiming {
  /** Between two probes once an instance has passed one (and during watches). */
  intervalMs: number;
  /** A probe taking longer fails. Always below intervalMs. */
  timeoutMs: number;
  /** Consecutive passes before an instance is healthy. */
  healthyAfter: number;
  /** Consecutive failed probes (outside the start period) before an instance is unhealthy. */
  unhealthyAfter: number;
  /** After it is healthy, how long it must stay so (no unhealthy judgement) before a rollout admits it. */
  minHealthyMs: number;
  /** Failures this long after the container started do not count. */
  startPeriodMs: number;
}

/** The defaults of a service's health settings (docs/berth-yaml.md); timeout is 1 s, or half the interval if that is shorter. */
export const HEALTH_DEFAULTS: HealthTiming = { intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 };

export type HealthCheck =
  | ({ kind: 'http'; path: string; port: number } & HealthTiming)
  | ({ kind: 'tcp'; port: number } & HealthTiming)
  | ({ kind: 'command'; command: string[] } & HealthTiming);

export interface ServiceSpec {
  name: string;
  /** A business image of the hierarchy. */
  image: string;
  command?: string[];
  /** Container ports (TCP). */
  ports: number[];
  env: Record<string, string>;
  /** Files copied into the container at start: absolute source path → absolute target path. */
  configFiles: { source: string; target: string }[];
  /** Secrets by name: each becomes /run/secrets/<name> and the environment variable <name> of the service. */
  secrets: Record<string, ServiceSecretRef>;
  health?: HealthCheck;
  resources: { cpus?: number; memoryBytes?: number };
  restart: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  replicas: number;
  /** Host labels the service's hosts must carry; absent when none (releases recorded before it have none). */
  placement?: PlacementSettings;
  stopGraceSeconds: number;
  rollout: RolloutSettings;
  canary: CanarySettings;
}

export interface PlacementSettings {
  labels: Record<string, string>;
}

/** How a release replaces instances behind the front door. */
export interface RolloutSettings {
  /** Instances replaced per batch. */
  batchSize: number;
  /** At most this many instances out of the load balancer at once. */
  maxUnavailable: number;
  /** Extra instances of the new release started before the first batch, removed at the end. */
  maxSurge: number;
  /** How long in-flight requests may take to finish after an instance stops getting new ones. */
  drainMs: number;
}

export interface CanarySettings {
  /** How long the canary is watched; its error rate is judged at the end of this window. */
  watchMs: number;
  /** Requests the canary must have served in the window for a judgement; fewer aborts it (not enough evidence). */
  minRequests: number;
  /** How far (a fraction: 0.05 = 5 percentage points) the canary's error rate may exceed the baseline's over the same window. */
  tolerance: number;
  /** Consecutive probes or counter reads that could not be made before that counts as a failure. */
  inconclusiveLimit: number;
}

/** The defaults of a service's canary gates (docs/berth-yaml.md). */
export const CANARY_DEFAULTS: CanarySettings = { watchMs: 30_000, minRequests: 20, tolerance: 0.05, inconclusiveLimit: 3 };

export type NetworkMode = 'nat' | 'flat' | 'host';

export interface NetworkSpec {
  name: string;
  mode: NetworkMode;
  /** flat: the Linux bridge the Docker network sits on. */
  bridge?: string;
  /** flat: the LAN's subnet, gateway and the range Berth may allocate from. */
  subnet?: string;
  gateway?: string;
  range?: { first: string; last: string };
  /** flat: addresses never given to an instance (the hosts' own, appliances). */
  reserved: string[];
  /** flat: the first two bytes of every instance MAC (the other four are the IPv4 address). */
  macPrefix: string;
  /** flat: Berth may create the Linux bridge (labs and tests); on a real host the operator's bridge is used. */
  createBridge: boolean;
  /** flat: how long a released address waits before another slot may get it. */
  quarantineMs: number;
}

export interface HostSpec {
  name: string;
  /** unix:///var/run/docker.sock or tcp://host:2376 */
  engine: string;
  /** The engine's unix socket on the host itself, which its warden mounts (hosts[].socket); see engineSocketOn. */
  socket?: string;
  /** The host's own address on the LAN (reserved in flat pools). */
  address?: string;
  /** Mutual TLS for a tcp:// engine: absolute paths of PEM files (the host's own, else fleet.tls). */
  tls?: { ca: string; cert: string; key: string };
  /** Plain tcp:// without TLS, written by the operator for this host. */
  insecure: boolean;
  labels: Record<string, string>;
}

/** An environment's front_door: the fleet hosts its doors run on and, for two or more, the address they share (VRRP). */
export interface FrontDoorSettings {
  hosts: string[];
  address?: string;
}

export interface EnvironmentSpec {
  name: string;
  hosts: string[];
  network: string;
  /** Per-service overrides; `lbPort` is the service's front door port in this environment; `secrets` override or add to the service's by name. */
  services: Record<string, { replicas?: number; env?: Record<string, string>; lbPort?: number; secrets?: Record<string, ServiceSecretRef>; placement?: PlacementSettings }>;
  /** The address front doors of this environment listen on. */
  lbAddress: string;
  /** Where its front doors run (front_door); without it, on the engine Berth builds with. */
  frontDoor?: FrontDoorSettings;
  /** A promotion here waits for the approval of a second token (through a Berth server). */
  protected: boolean;
  /** How long such an approval may wait before it expires. */
  approvalTimeoutMs: number;
}

/**
 * How the server watches each host (`fleet.failure`): a ping of its engine every `intervalMs`
 * (answered within `timeoutMs`), `suspectAfter` misses in a row make it suspect, `downAfter` down;
 * one that answers again gets no new instances until it has answered for `settleMs`. `stopGraceMs`:
 * after a down host's warden lease ended, the time its warden has to stop its instances before
 * they start elsewhere.
 */
export interface FailureSettings {
  intervalMs: number;
  timeoutMs: number;
  suspectAfter: number;
  downAfter: number;
  settleMs: number;
  stopGraceMs: number;
}

export const DEFAULT_FAILURE: FailureSettings = { intervalMs: 2000, timeoutMs: 1500, suspectAfter: 2, downAfter: 4, settleMs: 60_000, stopGraceMs: 5000 };
