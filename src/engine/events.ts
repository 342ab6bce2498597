/** The engine's event stream (GET /events): one JSON object per line, for as long as the caller listens. */
import { unavailable, type BerthError } from '../errors.js';
import { guard } from './errors.js';
import type { EngineHttp } from './http.js';

export interface EngineEventFilters {
  /** e.g. ['container'] */
  type?: string[];
  /** e.g. ['die', 'destroy'] */
  event?: string[];
  /** e.g. ['berth.project=x'] */
  label?: string[];
}

export interface EngineEvent {
  /** container, network, image, … */
  type: string;
  /** die, destroy, start, … */
  action: string;
  /** The object's ID (a container's). */
  id: string;
  /** The object's attributes: a container's labels, and its name. */
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch. */
  timeNano: number;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export class EventClient {
  constructor(
    private readonly http: EngineHttp,
    private readonly endpoint: string,
  ) {}

  /**
   * The engine's events matching the filters, from now on, until `signal` aborts (the stream then ends
   * without an error) or the engine closes the connection (it throws then, like any engine call).
   */
  async *stream(filters: EngineEventFilters, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    if (signal.aborted) return;
    const wanted = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined && v.length > 0));
    // No deadline on the headers: the engine sends them at once, and a stream that never starts is aborted by the caller.
    const response = await guard(this.endpoint, 'follow the engine events', () => this.http.call('GET', '/events', { query: { filters: wanted }, timeoutMs: 0 }));
    const stop = () => response.destroy();
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    let pending = '';
    try {
      for await (const chunk of response) {
        pending += (chunk as Buffer).toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const event = parseEvent(line);
          if (event) yield event;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw this.ended(error);
    } finally {
      signal.removeEventListener('abort', stop);
      response.destroy();
    }
    if (!signal.aborted) throw this.ended(undefined);
  }

  /** The stream ended without being asked to: the engine went away (restarted, unreachable). */
  private ended(error: unknown): BerthError {
    const why = error instanceof Error ? `: ${error.message}` : '';
    return unavailable(`the engine at ${this.endpoint} ended its event stream${why}`, { fix: 'check that the engine runs (berth hosts); the stream is followed again when it answers', ...(error ? { cause: error } : {}) });
  }
}

function parseEvent(line: string): EngineEvent | undefined {
  if (line.trim() === '') return undefined;
  let raw: RawEvent;
  try {
    raw = JSON.parse(line) as RawEvent;
  } catch {
    return undefined;
  }
  return {
    type: raw.Type ?? '',
    action: raw.Action ?? raw.status ?? '',
    id: raw.Actor?.ID ?? raw.id ?? '',
    attributes: raw.Actor?.Attributes ?? {},
    timeNano: raw.timeNano ?? 0,
  };
}
