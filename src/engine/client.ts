/**
 * The one module that talks to the Docker Engine. Everything else uses the
 * small interfaces exported here (images, containers, networks), never HTTP.
 */
import { ContainerClient } from './containers.js';
import { guard } from './errors.js';
import { EngineHttp, type EngineTarget } from './http.js';
import { ImageClient } from './images.js';
import { NetworkClient } from './networks.js';

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
  /** NCPU and MemTotal: the host's capacity for placement. */
  cpus: number;
  memoryBytes: number;
}

export class Engine {
  readonly endpoint: string;
  readonly images: ImageClient;
  readonly containers: ContainerClient;
  readonly networks: NetworkClient;
  readonly http: EngineHttp;
  private apiVersionOnce: Promise<string> | undefined;

  constructor(target: EngineTarget, endpoint: string) {
    this.http = new EngineHttp(target);
    this.endpoint = endpoint;
    this.images = new ImageClient(this.http, endpoint);
    this.containers = new ContainerClient(this.http, endpoint);
    this.networks = new NetworkClient(this.http, endpoint);
  }

  /** The engine's API version, asked once per Engine (bodies differ by version, e.g. where a MAC goes). */
  apiVersion(): Promise<string> {
    // A failed ask is not cached, so the next call tries again.
    this.apiVersionOnce ??= this.version().then(
      (v) => v.apiVersion,
      (error: unknown) => {
        this.apiVersionOnce = undefined;
        throw error;
      },
    );
    return this.apiVersionOnce;
  }

  async version(): Promise<EngineVersion> {
    type Version = { Version: string; ApiVersion: string; Os: string; KernelVersion: string };
    const v = await guard(this.endpoint, 'read the engine version', () => this.http.json<Version>('GET', '/version', { timeoutMs: 5000 }));
    return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, kernel: v.KernelVersion };
  }

  async info(): Promise<EngineInfo> {
    const i = await guard(this.endpoint, 'read the engine info', () => this.http.json<Record<string, unknown>>('GET', '/info', { timeoutMs: 5000 }));
    return {
      cgroupVersion: String(i.CgroupVersion ?? '1'),
      cgroupDriver: String(i.CgroupDriver ?? ''),
      storageDriver: String(i.Driver ?? ''),
      dockerRootDir: String(i.DockerRootDir ?? ''),
      bridgeNfIptables: Boolean(i.BridgeNfIptables),
      ipv4Forwarding: Boolean(i.IPv4Forwarding),
      initBinary: String(i.InitBinary ?? ''),
      cpus: Number(i.NCPU ?? 0),
      memoryBytes: Number(i.MemTotal ?? 0),
    };
  }
}

/** DOCKER_HOST (unix:// or tcp://) or the default socket. The environment is a parameter so tests pass their own. */
export function connectEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const host = env.DOCKER_HOST;
  if (!host || host.startsWith('unix://')) {
    const socketPath = host ? host.slice('unix://'.length) : '/var/run/docker.sock';
    return new Engine({ socketPath }, `unix://${socketPath}`);
  }
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Engine({ host: url.hostname, port: Number(url.port || 2375) }, host);
}
