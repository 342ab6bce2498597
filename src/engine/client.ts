/**
 * The one module that talks to the Docker Engine. Everything else uses the
 * small interfaces exported here (images, containers, networks), never HTTP.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostSpec } from '../config/model.js';
import { invalid } from '../errors.js';
import { ContainerClient } from './containers.js';
import { guard } from './errors.js';
import { EventClient, type EngineEvent, type EngineEventFilters } from './events.js';
import { EngineHttp, type EngineTarget, type EngineTls } from './http.js';
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
  /** NCPU and MemTotal: the host's capacity as the engine sees it. */
  cpus: number;
  memoryBytes: number;
}

export class Engine {
  readonly endpoint: string;
  readonly images: ImageClient;
  readonly containers: ContainerClient;
  readonly networks: NetworkClient;
  readonly http: EngineHttp;
  readonly #events: EventClient;

  constructor(target: EngineTarget, endpoint: string) {
    this.http = new EngineHttp(target, endpoint);
    this.endpoint = endpoint;
    this.images = new ImageClient(this.http, endpoint);
    this.containers = new ContainerClient(this.http, endpoint);
    this.networks = new NetworkClient(this.http, endpoint);
    this.#events = new EventClient(this.http, endpoint);
  }

  /** The engine's events matching `filters` from now on, until `signal` aborts (GET /events). */
  events(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    return this.#events.stream(filters, signal);
  }

  /** The API version Berth speaks to this engine (bodies differ by version, e.g. where a MAC goes), asked once per Engine. */
  apiVersion(): Promise<string> {
    return guard(this.endpoint, 'read the engine version', () => this.http.apiVersion());
  }

  async version(): Promise<EngineVersion> {
    const v = await guard(this.endpoint, 'read the engine version', () => this.http.version());
    return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, kernel: v.KernelVersion };
  }

  /** Answers the engine's GET /_ping within `timeoutMs` (a host's liveness). */
  async ping(timeoutMs = 5_000): Promise<void> {
    await guard(this.endpoint, 'ping the engine', () => this.http.empty('GET', '/_ping', { timeoutMs }));
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

  /** Closes the engine's idle keep-alive connections. */
  close(): Promise<void> {
    return this.http.close();
  }
}

/**
 * DOCKER_HOST (unix:// or tcp://) or the default socket; DOCKER_TLS_VERIFY with
 * DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem, as the docker CLI reads them) for TLS.
 * The environment is a parameter so tests pass their own.
 */
export function connectEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const host = env.DOCKER_HOST;
  if (!host || host.startsWith('unix://')) {
    const socketPath = host ? host.slice('unix://'.length) : '/var/run/docker.sock';
    return new Engine({ socketPath }, `unix://${socketPath}`);
  }
  const certs = env.DOCKER_CERT_PATH ?? join(env.HOME ?? homedir(), '.docker');
  const tls = env.DOCKER_TLS_VERIFY ? { ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), key: join(certs, 'key.pem') } : undefined;
  return new Engine(tcpTarget(host, tls), host);
}

/** The engine of one host of berth.yaml: its unix socket, or tcp:// with its TLS files (or, only when `insecure`, plain). */
export function connectHost(spec: HostSpec): Engine {
  if (spec.engine.startsWith('unix://')) return new Engine({ socketPath: spec.engine.slice('unix://'.length) }, spec.engine);
  if (!spec.engine.startsWith('tcp://')) throw invalid(`host "${spec.name}": cannot connect to ${spec.engine}`, { fix: 'use unix://<socket> or tcp://<host>:2376 with "tls"' });
  if (!spec.tls && !spec.insecure) {
    throw invalid(`host "${spec.name}": ${spec.engine} without TLS would give root on the host to anyone who reaches the port`, {
      fix: 'give the host "tls: { ca, cert, key }" (or "fleet.tls"), or write "insecure: true" for it',
    });
  }
  return new Engine(tcpTarget(spec.engine, spec.tls), spec.engine);
}

function tcpTarget(address: string, tls: EngineTls | undefined): EngineTarget {
  const url = new URL(address.replace(/^tcp:/, 'http:'));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(url.port || (tls ? 2376 : 2375)), ...(tls ? { tls } : {}) };
}
