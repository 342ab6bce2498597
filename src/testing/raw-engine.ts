/**
 * The engine's own HTTP API, for tests and benchmarks that must see what Berth's Engine
 * interface does not show (the whole inspect JSON, to prove a secret is not in it; a
 * network's endpoints; an image's RepoDigests; swarm tasks). Its own client, to the same
 * endpoint and with the same TLS files as connectEngine(env) or connectHost(spec) use;
 * product code never needs it.
 */
import type { HostSpec } from '../config/model.js';
import { addressFromEnv, addressOfHost } from '../engine/client.js';
import { EngineHttp } from '../engine/http.js';

export type RawEngine = Pick<EngineHttp, 'json' | 'call' | 'empty' | 'close' | 'endpoint'>;

/** The engine connectEngine(env) talks to. */
export function rawEngine(env: NodeJS.ProcessEnv = process.env): RawEngine {
  const { target, endpoint } = addressFromEnv(env);
  return new EngineHttp(target, endpoint);
}

/** The engine of one host of berth.yaml, as connectHost(spec) reaches it. */
export function rawHost(spec: HostSpec): RawEngine {
  const { target, endpoint } = addressOfHost(spec);
  return new EngineHttp(target, endpoint);
}

/** GET /containers/{id}/json as the engine answers it. */
export function inspectRaw<T = Record<string, unknown>>(raw: RawEngine, container: string): Promise<T> {
  return raw.json<T>('GET', `/containers/${encodeURIComponent(container)}/json`);
}
