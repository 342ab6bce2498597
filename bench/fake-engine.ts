/**
 * FakeEngineForScale: a stand-in for a host's Docker Engine, FOR SCALE ONLY.
 * It answers `info()` with the fields placement reads (NCPU and MemTotal, as
 * the real engine's GET /info does, mapped the way engine/client.ts maps them)
 * and nothing else, so the placement benchmark can simulate 2,000 hosts on one
 * machine. It is not an engine: nothing is created, no test relies on it.
 */
import type { EngineInfo } from '../src/engine/client.js';

export class FakeEngineForScale {
  readonly #body: { NCPU: number; MemTotal: number };

  constructor(cpus: number, memoryBytes: number) {
    this.#body = { NCPU: cpus, MemTotal: memoryBytes };
  }

  /** What GET /info would say about capacity. */
  async info(): Promise<Pick<EngineInfo, 'cpus' | 'memoryBytes'>> {
    const i: Record<string, unknown> = { ...this.#body };
    return { cpus: Number(i.NCPU ?? 0), memoryBytes: Number(i.MemTotal ?? 0) };
  }
}
