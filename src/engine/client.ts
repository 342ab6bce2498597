/**
 * The real engine: Berth's Engine interface (engine.ts) over the Docker Engine API.
 * Made only by connectEngine and connectHost; its HTTP client stays inside it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostSpec } from '../config/model.js';
import { invalid } from '../errors.js';
import { ContainerClient } from './containers.js';
import type { Engine, EngineContainers, EngineImages, EngineInfo, EngineNetworks, EngineVersion } from './engine.js';
import { guard } from './errors.js';
import { EventClient, type EngineEvent, type EngineEventFilters } from './events.js';
import { ExecClient } from './exec.js';
import type { ExecResult } from './containers.js';
import { EngineHttp, type EngineTarget, type EngineTls } from './http.js';
import { ImageClient } from './images.js';
import { NetworkClient } from './networks.js';

export type { Engine, EngineContainers, EngineEvents, EngineExec, EngineImages, EngineInfo, EngineNetworks, EngineSystem, EngineVersion } from './engine.js';

export class DockerEngine implements Engine {
  readonly endpoint: string;
  readonly images: EngineImages;
  readonly containers: EngineContainers;
  readonly networks: EngineNetworks;
  readonly #http: EngineHttp;
  readonly #events: EventClient;
  readonly #exec: ExecClient;

  /** Use connectEngine or connectHost; tests of the transport make one for a target of their own. */
  constructor(target: EngineTarget, endpoint: string) {
    this.#http = new EngineHttp(target, endpoint);
    this.endpoint = endpoint;
    this.images = new ImageClient(this.#http, endpoint);
    this.containers = new ContainerClient(this.#http, endpoint);
    this.networks = new NetworkClient(this.#http, endpoint);
    this.#events = new EventClient(this.#http, endpoint);
    this.#exec = new ExecClient(this.#http, endpoint);
  }

  exec(container: string, cmd: string[]): Promise<ExecResult> {
    return this.#exec.run(container, cmd);
  }

  /** GET /events. */
  events(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    return this.#events.stream(filters, signal);
  }

  /** Asked once per engine. */
  apiVersion(): Promise<string> {
    return guard(this.endpoint, 'read the engine version', () => this.#http.apiVersion());
  }

  async version(): Promise<EngineVersion> {
    const v = await guard(this.endpoint, 'read the engine version', () => this.#http.version());
    return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, kernel: v.KernelVersion };
  }

  /** GET /_ping. */
  async ping(timeoutMs = 5_000): Promise<void> {
    await guard(this.endpoint, 'ping the engine', () => this.#http.empty('GET', '/_ping', { timeoutMs }));
  }

  async info(): Promise<EngineInfo> {
    const i = await guard(this.endpoint, 'read the engine info', () => this.#http.json<Record<string, unknown>>('GET', '/info', { timeoutMs: 5000 }));
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

  close(): Promise<void> {
    return this.#http.close();
  }
}

/** Where an engine is and how to reach it: what connectEngine and connectHost connect to (and testing/raw-engine.ts, for tests that read the engine's own JSON). */
export interface EngineAddress {
  target: EngineTarget;
  endpoint: string;
}

/**
 * DOCKER_HOST (unix:// or tcp://) or the default socket; DOCKER_TLS_VERIFY with
 * DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem, as the docker CLI reads them) for TLS.
 * The environment is a parameter so tests pass their own.
 */
export function connectEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const { target, endpoint } = addressFromEnv(env);
  return new DockerEngine(target, endpoint);
}

/** The engine of one host of berth.yaml: its unix socket, or tcp:// with its TLS files (or, only when `insecure`, plain). */
export function connectHost(spec: HostSpec): Engine {
  const { target, endpoint } = addressOfHost(spec);
  return new DockerEngine(target, endpoint);
}

export function addressFromEnv(env: NodeJS.ProcessEnv): EngineAddress {
  const host = env.DOCKER_HOST;
  if (!host || host.startsWith('unix://')) {
    const socketPath = host ? host.slice('unix://'.length) : '/var/run/docker.sock';
    return { target: { socketPath }, endpoint: `unix://${socketPath}` };
  }
  const certs = env.DOCKER_CERT_PATH ?? join(env.HOME ?? homedir(), '.docker');
  const tls = env.DOCKER_TLS_VERIFY ? { ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), key: join(certs, 'key.pem') } : undefined;
  return { target: tcpTarget(host, tls), endpoint: host };
}

export function addressOfHost(spec: HostSpec): EngineAddress {
  if (spec.engine.startsWith('unix://')) return { target: { socketPath: spec.engine.slice('unix://'.length) }, endpoint: spec.engine };
  if (!spec.engine.startsWith('tcp://')) throw invalid(`host "${spec.name}": cannot connect to ${spec.engine}`, { fix: 'use unix://<socket> or tcp://<host>:2376 with "tls"' });
  if (!spec.tls && !spec.insecure) {
    throw invalid(`host "${spec.name}": ${spec.engine} without TLS would give root on the host to anyone who reaches the port`, {
      fix: 'give the host "tls: { ca, cert, key }" (or "fleet.tls"), or write "insecure: true" for it',
    });
  }
  return { target: tcpTarget(spec.engine, spec.tls), endpoint: spec.engine };
}

function tcpTarget(address: string, tls: EngineTls | undefined): EngineTarget {
  const url = new URL(address.replace(/^tcp:/, 'http:'));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(url.port || (tls ? 2376 : 2375)), ...(tls ? { tls } : {}) };
}
