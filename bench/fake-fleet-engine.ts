/**
 * FakeFleetEngineForScale: a stand-in for one host's Docker Engine, FOR SCALE
 * ONLY, so the server benchmark can show 1,000 recorded instances over many
 * hosts without running a container. It answers the three calls `listFleet`
 * (runtime/instances.ts) makes, with the shapes engine/client.ts returns:
 * `version()` (the reach check), `containers.list(labels)` (the label filter
 * matched as the engine does: every `key=value` must be on the container) and
 * `containers.inspect(id)`. Anything else is absent, so a code path that needs
 * more fails loudly instead of measuring nothing. No test relies on it.
 */
import type { Engine, EngineVersion } from '../src/engine/client.js';
import type { ContainerState } from '../src/engine/containers.js';

export class FakeFleetEngineForScale {
  readonly #containers = new Map<string, ContainerState>();
  readonly containers = {
    list: async (labels: string[]): Promise<string[]> => {
      const wanted = labels.map((l) => l.split('=', 2) as [string, string]);
      return [...this.#containers.values()].filter((c) => wanted.every(([key, value]) => c.labels[key] === value)).map((c) => c.id);
    },
    inspect: async (id: string): Promise<ContainerState | undefined> => this.#containers.get(id),
  };

  constructor(readonly endpoint: string) {}

  add(container: ContainerState): void {
    this.#containers.set(container.id, container);
  }

  async version(): Promise<EngineVersion> {
    return { version: '20.10.24', apiVersion: '1.41', os: 'linux', kernel: 'fake-for-scale' };
  }

  /** Typed as the product's Engine for the Hosts seam; only the calls above exist. */
  asEngine(): Engine {
    return this as unknown as Engine;
  }
}
