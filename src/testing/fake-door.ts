/**
 * FakeDoor: a service's front door in memory, for unit tests of rollouts without HAProxy. It keeps
 * the servers as the rollout leaves them (address, port, weight, ready or draining) and whether it
 * was closed. It serves no traffic: its stats count the requests and errors a test says each
 * server answered (`serve`), as HAProxy's cumulative counters would.
 */
import type { Door, DoorServer, DoorServerStats } from '../rollout/door.js';

export interface FakeDoorServer extends DoorServer {
  state: 'ready' | 'drain';
}

export class FakeDoor implements Door {
  readonly #servers = new Map<string, FakeDoorServer>();
  readonly #counters = new Map<string, { requests: number; errors: number }>();
  closed = false;

  constructor(
    readonly address = '127.0.0.1',
    readonly port = 18080,
  ) {}

  /** The servers by name, as HAProxy would have them now. */
  servers(): FakeDoorServer[] {
    return [...this.#servers.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  async sync(servers: DoorServer[]): Promise<void> {
    this.closed = false;
    this.#servers.clear();
    for (const s of servers) this.#servers.set(s.name, { ...s, state: 'ready' });
  }

  async upsert(server: DoorServer): Promise<void> {
    this.#servers.set(server.name, { ...server, state: 'ready' });
  }

  async drain(name: string, _timeoutMs: number): Promise<boolean> {
    const server = this.#servers.get(name);
    if (server) server.state = 'drain';
    return true;
  }

  async remove(name: string): Promise<void> {
    this.#servers.delete(name);
  }

  async setWeight(name: string, weight: number): Promise<void> {
    const server = this.#servers.get(name);
    if (server) server.weight = weight;
  }

  /** Counts `requests` answered by the server `name`, `errors` of them failed (a 5xx or a broken connection). */
  serve(name: string, requests: number, errors = 0): void {
    const now = this.#counters.get(name) ?? { requests: 0, errors: 0 };
    this.#counters.set(name, { requests: now.requests + requests, errors: now.errors + errors });
  }

  async stats(): Promise<DoorServerStats[]> {
    return this.servers().map((s) => ({ name: s.name, weight: s.weight, state: s.state, requests: 0, errors: 0, ...this.#counters.get(s.name) }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.#servers.clear();
  }
}
