/**
 * GET /v1/events: a server-sent event stream (rollout progress and ends, and
 * whatever else the bus carries). Hand-written because SSE framing is four
 * lines and resuming is ours: the stored events after Last-Event-ID (or
 * ?after=) are replayed, then live ones follow. Live events that arrive
 * while the replay reads are buffered, so none falls between them and none is
 * sent twice. A store that does not answer during the replay (a database
 * outage) keeps the stream open: it reads again until the store answers.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../../errors.js';
import type { ServerCore } from '../core.js';
import type { EventRecord } from '../events.js';

const HEARTBEAT_MS = 15_000;


export function sseFrame(event: EventRecord): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify({ at: new Date(event.at).toISOString(), rollout: event.rollout, ...(event.data as object) })}\n\n`;
}

export async function eventRoutes(app: FastifyInstance, core: ServerCore): Promise<void> {
  app.get(
    '/events',
    {
      config: { access: { level: 'read' } },
      schema: {
        summary: 'server-sent events; resume with the Last-Event-ID header (or ?after=SEQ); ?rollout=ID for one rollout',
        querystring: { type: 'object', additionalProperties: false, properties: { rollout: { type: 'integer', minimum: 1 }, after: { type: 'integer', minimum: 0 } } },
      },
    },
    async (request: FastifyRequest<{ Querystring: { rollout?: number; after?: number } }>, reply) => {
      const header = request.headers['last-event-id'];
      const fromHeader = typeof header === 'string' && header !== '' ? Number(header) : undefined;
      if (fromHeader !== undefined && !(Number.isInteger(fromHeader) && fromHeader >= 0)) throw invalid(`Last-Event-ID "${header}" is not an event id`, { fix: 'send the id: of the last event received' });
      let last = fromHeader ?? request.query.after ?? 0;
      const rollout = request.query.rollout;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      // Sent now, not with the first event: the client knows its stream is open also while the replay waits for the store.
      raw.flushHeaders();
      const wanted = (event: EventRecord) => event.seq > last && (rollout === undefined || event.rollout === rollout);
      let stopped = false;
      const ended = new AbortController();
      let stopLive = () => {};
      const untrack = core.events.trackStream(() => raw.end(), request.token!.name);
      const heartbeat = setInterval(() => (raw.writableNeedDrain ? undefined : live(': keep-alive\n\n')), HEARTBEAT_MS);
      const stop = () => {
        stopped = true;
        ended.abort();
        clearInterval(heartbeat);
        stopLive();
        untrack();
      };
      raw.on('close', stop);
      raw.on('error', stop);
      // Live: a client that does not read (paused, a half-open connection) is cut off rather than buffered without end; it resumes from its Last-Event-ID.
      function live(text: string): void {
        if (!raw.destroyed && !raw.write(text)) raw.destroy();
      }
      // Subscribed before the replay, buffering: an event stored while the replay reads (the store is asynchronous) is neither lost nor sent twice.
      let replaying = true;
      const buffered: EventRecord[] = [];
      const send = (event: EventRecord) => {
        if (event.seq <= last) return;
        last = event.seq;
        live(sseFrame(event));
      };
      stopLive = core.events.subscribe((event) => {
        if (!wanted(event)) return;
        if (replaying) buffered.push(event);
        else send(event);
      });
      /*
       * The next page of the replay. The stream is already answered (200), so a store that does not
       * answer cannot become an error reply: the bus reads again until it does, live events are
       * buffered meanwhile (undefined: the stream ended while waiting). Any other failure ends the
       * stream (its client resumes with Last-Event-ID) and goes to the server's log.
       */
      const nextPage = () =>
        core.events.afterWaitingForStore(last, rollout, ended.signal).catch((error: unknown) => {
          raw.destroy();
          throw error;
        });
      // The replay waits for the client to read: it may be long.
      while (!stopped) {
        const page = await nextPage();
        if (page === undefined || page.length === 0) break;
        for (const event of page) {
          if (stopped) return;
          last = event.seq;
          if (!raw.write(sseFrame(event))) await new Promise((resume) => raw.once('drain', resume).once('close', resume));
        }
      }
      if (stopped || raw.destroyed) return stop();
      // Caught up: what arrived meanwhile, then live, in one turn.
      replaying = false;
      for (const event of buffered.splice(0)) send(event);
    },
  );
}
