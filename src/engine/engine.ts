/**
 * What Berth asks of a Docker Engine, one interface per resource, grouped as `Engine`.
 * The real one is made by connectEngine/connectHost (client.ts); tests use FakeEngine
 * (testing/fake-engine.ts). One suite (contract.ts) runs against both, so the fake
 * cannot drift from Docker where Berth depends on Docker's behaviour.
 *
 * Failures carry Berth's error categories (errors.ts `guard`): a look-up of something
 * absent answers undefined; a name already taken is a conflict; an engine that cannot be
 * reached is unavailable (`isUnreachable`).
 */
import type { Readable } from 'node:stream';
import type { ContainerState, ContainerSummary, CreateBody, ExecResult } from './containers.js';
import type { EngineEvent, EngineEventFilters } from './events.js';
import type { BuildLine, BuildRequest, ContainerBuildRequest, EngineImage, ImageConfig, PushProgress, PushResult, RegistryAuth } from './images.js';
import type { NetworkCreateBody, NetworkState } from './networks.js';

export interface EngineContainers {
  /** Creates a container (its name in `body.name`); returns its ID. A name already taken is a conflict, an image the engine lacks not-found. */
  create(body: CreateBody): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops with the given grace period (SIGTERM, then SIGKILL after `seconds`); a stopped container is fine. */
  stop(id: string, seconds?: number): Promise<void>;
  restart(id: string, seconds?: number): Promise<void>;
  /** Removes (forcefully, running or not) a container by ID or name; an absent one is fine. */
  remove(id: string): Promise<void>;
  /** Waits until the container is not running; returns its exit code. */
  wait(id: string): Promise<number>;
  /** By ID or name; undefined when there is none. */
  inspect(id: string): Promise<ContainerState | undefined>;
  /** A name already taken is a conflict. */
  rename(id: string, name: string): Promise<void>;
  /** Changes the restart policy ('no', 'always', 'unless-stopped', 'on-failure') of a container in place, running or not. */
  setRestartPolicy(id: string, policy: string): Promise<void>;
  /** Unpacks a tar archive into the container's filesystem at `path` (an existing folder); works on a created, not yet started container. */
  putArchive(id: string, path: string, tar: Buffer): Promise<void>;
  /** A tar archive of `path` in the container's filesystem; not-found when it is absent. */
  getArchive(id: string, path: string): Promise<Buffer>;
  /** Who the container's process starts as (the image's USER, or '') and its environment (the image's and the create body's). */
  processConfig(id: string): Promise<{ user: string; env: Record<string, string> }>;
  /** Containers (running or not) matching every label filter ("key" or "key=value"), with what the engine's list reports. */
  summaries(labels: string[]): Promise<ContainerSummary[]>;
  /** IDs of containers (running or not) matching every label filter. */
  list(labels: string[]): Promise<string[]>;
  /** The container's output so far (stdout and stderr interleaved), as text. */
  logs(id: string, options?: { tail?: number; since?: number }): Promise<string>;
  /** Follows a container's output; each chunk goes to `onText` until the output ends (the container stopped). */
  follow(id: string, options: { since?: number; tail?: number }, onText: (text: string) => void): Promise<void>;
}

export interface EngineImages {
  /** Images carrying a label ("key" or "key=value"). */
  list(label: string): Promise<EngineImage[]>;
  /** By ID, repo:tag or repo@digest; undefined when there is none. */
  inspect(ref: string): Promise<EngineImage | undefined>;
  has(ref: string): Promise<boolean>;
  /** Forcefully: a tag is untagged, an ID removes the image. An absent image is not-found. */
  remove(ref: string): Promise<void>;
  tag(ref: string, repo: string, tag: string): Promise<void>;
  /** Imports a root filesystem tarball as repo:tag with the given labels; returns the image ID. */
  importTarball(file: string, repo: string, tag: string, labels: Record<string, string>): Promise<string>;
  /** Pulls repo@digest; returns how many layers it downloaded. The password never appears in an error. */
  pull(repo: string, digest: string, auth: RegistryAuth): Promise<{ downloaded: number }>;
  /** Pushes repo:tag; resolves with the manifest's digest. */
  push(repo: string, tag: string, auth: RegistryAuth, onProgress?: (p: PushProgress) => void): Promise<PushResult>;
  /** The images as `docker save` writes them: a tar of each layer's layer.tar (uncompressed), each config as `<id>.json`, and manifest.json. */
  export(refs: readonly string[]): Promise<Readable>;
  /** Builds a context; each output line goes to `onLine`; returns the image ID. */
  build(context: Readable, request: BuildRequest, onLine: (line: BuildLine) => void): Promise<string>;
  /** The image's configuration (environment, labels, ports, entrypoint, command, workdir, user); undefined when absent. */
  config(ref: string): Promise<ImageConfig | undefined>;
  /** Makes an image in one container (ContainerBuildRequest); each output line goes to `onLine`; returns the image ID. */
  buildInContainer(request: ContainerBuildRequest, onLine: (line: BuildLine) => void): Promise<string>;
}

export interface EngineNetworks {
  /** By name or ID; undefined when there is none. */
  inspect(name: string): Promise<NetworkState | undefined>;
  /** Creates the network; returns its ID. A name already taken is a conflict. */
  create(body: NetworkCreateBody): Promise<string>;
  /** By name or ID; an absent one is fine. */
  remove(name: string): Promise<void>;
  /** Networks matching every label filter. */
  list(labels: string[]): Promise<NetworkState[]>;
}

export interface EngineExec {
  /** Runs a command inside a running container and collects its output (a stopped one is a conflict). */
  exec(container: string, cmd: string[]): Promise<ExecResult>;
}

export interface EngineEvents {
  /**
   * The engine's events matching `filters` from now on, until `signal` aborts (the stream then ends
   * without an error) or the engine goes away (it throws then, unavailable).
   */
  events(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent>;
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
  os: string;
  kernel: string;
}

export interface EngineInfo {
  cgroupVersion: string;
  cgroupDriver: string;
  storageDriver: string;
  dockerRootDir: string;
  bridgeNfIptables: boolean;
  ipv4Forwarding: boolean;
  initBinary: string;
  /** NCPU and MemTotal: the host's capacity as the engine sees it. */
  cpus: number;
  memoryBytes: number;
}

export interface EngineSystem {
  /** unix:///var/run/docker.sock, tcp://host:2376: where the engine is, as errors name it. */
  readonly endpoint: string;
  version(): Promise<EngineVersion>;
  /** The API version Berth speaks to this engine (bodies differ by version, e.g. where a MAC goes). */
  apiVersion(): Promise<string>;
  /** Answers within `timeoutMs` (a host's liveness). */
  ping(timeoutMs?: number): Promise<void>;
  info(): Promise<EngineInfo>;
  /** Closes idle connections (a process done with the engine need not wait for them). */
  close(): Promise<void>;
}

/** One Docker Engine, as Berth sees it. */
export interface Engine extends EngineSystem, EngineExec, EngineEvents {
  readonly containers: EngineContainers;
  readonly images: EngineImages;
  readonly networks: EngineNetworks;
}
