/**
 * Following a rollout the server runs: its events from the stream, resumed
 * with Last-Event-ID when the connection drops (a server restarted mid-rollout
 * resumes the rollout and its stream), until the rollout's end.
 */
import { BerthError, unavailable, type ErrorKind } from '../errors.js';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import type { RolloutResult } from '../rollout/executor.js';
import { errorFromBody, type ServerClient } from './client.js';
import { parseSse } from './sse.js';

/** How long the follower keeps trying to reach a server that went away. */
const RECONNECT_FOR_MS = 120_000;

export type FollowEnd<R = RolloutResult> = { kind: 'finished'; result: R } | { kind: 'failed'; error: BerthError };

interface Frame<R> {
  rollout: number | null;
  result?: R;
  error?: { kind: ErrorKind; message: string; fix?: string; lines?: string[] };
}

export async function followRollout<R = RolloutResult, E = RolloutEvent>(client: ServerClient, rollout: number, onProgress: (event: E) => void, signal?: AbortSignal): Promise<FollowEnd<R>> {
  let last: string | undefined;
  let lostSince: number | undefined;
  for (;;) {
    try {
      const res = await client.stream(`/v1/events?rollout=${rollout}`, last ? { 'last-event-id': last } : {}, signal);
      lostSince = undefined;
      for await (const event of parseSse(res)) {
        if (event.id) last = event.id;
        const frame = JSON.parse(event.data) as Frame<R> & E;
        if (event.event === 'rollout-progress') onProgress(frame);
        else if (event.event === 'rollout-finished' && frame.result) return { kind: 'finished', result: frame.result };
        else if (event.event === 'rollout-failed' && frame.error) {
          return { kind: 'failed', error: errorFromBody(500, { error: frame.error }, `rollout #${rollout}`) };
        }
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof BerthError && error.kind !== 'unavailable') throw error;
    }
    // The stream ended or the server went away: resume from the last event seen.
    lostSince ??= Date.now();
    if (Date.now() - lostSince > RECONNECT_FOR_MS) {
      throw unavailable(`lost the Berth server while following rollout #${rollout}`, { fix: `the rollout goes on in the server if it is up; follow it again: berth rollout follow ${rollout}` });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
