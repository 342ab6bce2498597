/** The engines of the project's hosts, connected lazily, one client per host. */
import type { HostSpec, Project } from '../config/model.js';
import { connectHost, type Engine } from '../engine/client.js';
import { notFound } from '../errors.js';

export class Hosts {
  readonly #specs: Map<string, HostSpec>;
  readonly #engines = new Map<string, Engine>();

  /** `connect`: how a host's engine is reached; a benchmark or a test passes another (testing/fake-engine.ts). */
  constructor(
    project: Project,
    private readonly defaultEngine: Engine,
    private readonly connect: (spec: HostSpec) => Engine = connectHost,
  ) {
    this.#specs = new Map(project.hosts.map((h) => [h.name, h]));
  }

  spec(name: string): HostSpec {
    const spec = this.#specs.get(name);
    if (!spec) throw notFound(`unknown host "${name}"`, { fix: `declare it under "hosts:" in berth.yaml, or use one of: ${[...this.#specs.keys()].join(', ')}` });
    return spec;
  }

  engine(name: string): Engine {
    const known = this.#engines.get(name);
    if (known) return known;
    const spec = this.spec(name);
    const engine = spec.engine === this.defaultEngine.endpoint ? this.defaultEngine : this.connect(spec);
    this.#engines.set(name, engine);
    return engine;
  }

  /** The engine Berth builds with (its own): where current builds are found. */
  buildEngine(): Engine {
    return this.defaultEngine;
  }

  /** Whether a host's engine is the build engine: the only one that has images never pushed. */
  isBuildEngine(name: string): boolean {
    return this.spec(name).engine === this.defaultEngine.endpoint;
  }

  /** An engine on this machine: Berth can reach its bridges and containers directly. */
  isLocal(name: string): boolean {
    return this.spec(name).engine.startsWith('unix://');
  }

  /** How Berth reaches ports the host publishes. */
  address(name: string): string {
    return this.isLocal(name) ? '127.0.0.1' : (this.spec(name).address ?? new URL(this.spec(name).engine.replace(/^tcp:/, 'http:')).hostname);
  }
}
