/**
 * FakeEngine: a Docker Engine in memory, for unit tests that need an engine but not Docker.
 * It implements the same Engine interface as the real one (engine/engine.ts), and the contract
 * suite (engine/contract.ts) runs against both, so what it answers is what Docker answers where
 * Berth depends on it: absent → undefined from inspect, a taken name → conflict, label filters,
 * static IPs and MACs, published ports, health, events, and an unreachable engine's error.
 *
 * Nothing runs in it. A test drives what a process would do:
 *
 *   const engine = new FakeEngine();
 *   const image = engine.images.add({ tags: ['app:1'] });
 *   engine.scriptExec((c, cmd) => (cmd[0] === 'pg_isready' ? { exitCode: 0, output: '' } : undefined));
 *   … code under test creates and starts containers …
 *   engine.setHealth('web-dev-1', 'healthy');        // starting → healthy
 *   engine.exit('web-dev-1', 137);                    // the process dies (a restart policy restarts it)
 *
 * and injects faults: `failCreate` (a create the engine refuses), `holdStarts` (a start that hangs
 * until released), `stopAnswering` (every call fails as for an engine nobody listens for), `goDown`
 * and `boot` (the engine dies with its containers, and restarts those its restart policies name).
 */
import type { CreateBody, ExecResult } from '../engine/containers.js';
import type { Engine, EngineInfo, EngineVersion } from '../engine/engine.js';
import type { EngineEvent, EngineEventFilters } from '../engine/events.js';
import { EngineCallError } from '../engine/http.js';
import { FakeContainers, type ExecScript, type Health } from './fake-containers.js';
import { FakeCore } from './fake-engine-core.js';
import { FakeImages, FakeRegistry, type FakeImageSpec } from './fake-images.js';
import { FakeNetworks } from './fake-networks.js';

export { FakeRegistry, type FakeImageSpec, type ExecScript, type Health };

export interface FakeEngineOptions {
  /** How errors name the engine; "fake://engine" unless set. */
  endpoint?: string;
  /** 1.41 (Docker 20.10, the MAC on the container) unless set; 1.44 reads the MAC from the endpoint. */
  apiVersion?: string;
  /** The registry pushes go to and pulls come from; without one both fail as with a registry nobody runs. */
  registry?: FakeRegistry;
  cpus?: number;
  memoryBytes?: number;
}

export class FakeEngine implements Engine {
  readonly endpoint: string;
  readonly containers: FakeContainers;
  readonly images: FakeImages;
  readonly networks: FakeNetworks;
  readonly #core: FakeCore;
  readonly #options: FakeEngineOptions;
  /** How many times close() was called. */
  closed = 0;

  constructor(options: FakeEngineOptions = {}) {
    this.#options = options;
    this.endpoint = options.endpoint ?? 'fake://engine';
    this.#core = new FakeCore(this.endpoint);
    this.networks = new FakeNetworks(this.#core, (id) => this.containers.usesNetwork(id));
    this.images = new FakeImages(this.#core, options.registry, (id) => this.containers.usesImage(id));
    this.containers = new FakeContainers(this.#core, this.images, this.networks, () => this.#api());
  }

  exec(container: string, cmd: string[]): Promise<ExecResult> {
    return this.containers.exec(container, cmd);
  }

  events(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    return this.#core.events(filters, signal);
  }

  apiVersion(): Promise<string> {
    return this.#core.answer('read the engine version', () => this.#api());
  }

  version(): Promise<EngineVersion> {
    return this.#core.answer('read the engine version', () => ({ version: '20.10.24', apiVersion: this.#api(), os: 'linux', kernel: 'fake' }));
  }

  async ping(_timeoutMs = 5_000): Promise<void> {
    await this.#core.answer('ping the engine', () => undefined);
  }

  info(): Promise<EngineInfo> {
    return this.#core.answer('read the engine info', () => ({
      cgroupVersion: '2',
      cgroupDriver: 'systemd',
      storageDriver: 'overlay2',
      dockerRootDir: '/var/lib/docker',
      bridgeNfIptables: true,
      ipv4Forwarding: true,
      initBinary: 'docker-init',
      cpus: this.#options.cpus ?? 2,
      memoryBytes: this.#options.memoryBytes ?? 4 * 1024 ** 3,
    }));
  }

  async close(): Promise<void> {
    this.closed++;
  }

  // --- what a test drives ------------------------------------------------------------

  /** Every call from now on fails as it does for an engine nobody listens for (unavailable, isUnreachable); hung starts and event streams end. */
  stopAnswering(): void {
    this.#core.stopAnswering();
  }

  answerAgain(): void {
    this.#core.answerAgain();
  }

  /** The engine dies as dockerd does on its way down (its host crashed, or it was stopped): every container stops, then no call is answered. */
  goDown(): void {
    this.containers.haltAll();
    this.#core.stopAnswering();
  }

  /** The engine starts again, as dockerd does at boot: it answers, and starts every container whose restart policy says so, before anyone calls it. */
  boot(): void {
    this.#core.answerAgain();
    this.containers.restoreAll();
  }

  /** The next create whose body `match`es is refused, by default as the engine refuses with a 500 (failed). */
  failCreate(match: (body: CreateBody) => boolean = () => true, error: Error = new EngineCallError(500, 'failed to create the container (a fault the test injected)')): void {
    this.containers.failCreate(match, error);
  }

  /** Starts of containers whose name `match`es hang until the returned release is called, the container is removed or the engine stops answering. */
  holdStarts(match: (name: string) => boolean = () => true): () => void {
    return this.containers.holdStarts(match);
  }

  /** Answers execs; the newest script is asked first, one answering undefined passes to the next. */
  scriptExec(script: ExecScript): void {
    this.containers.scriptExec(script);
  }

  /** A running container with a health check becomes healthy or unhealthy (it starts as "starting"). */
  setHealth(container: string, health: Exclude<Health, 'starting'>): void {
    this.containers.setHealth(container, health);
  }

  /** The container's process exits with `code` (a restart policy that applies starts it again). */
  exit(container: string, code: number): void {
    this.containers.exit(container, code);
  }

  /** Output of the container's process (logs, follow). */
  write(container: string, text: string): void {
    this.containers.write(container, text);
  }

  /** Gives the engine an image (as if built or loaded); returns its ID. */
  addImage(spec: FakeImageSpec): string {
    return this.images.add(spec);
  }

  #api(): string {
    return this.#options.apiVersion ?? '1.41';
  }
}
