/**
 * GET /v1/events while the store does not answer: a stream whose replay cannot read the store
 * (a database outage) stays open and carries every event, replayed and live, once the store is
 * back; any other failure of the replay ends the stream. The store's failure is faked on the
 * bus's reader (`core.events.after`), as the PostgreSQL driver reports a refused connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../../access/tokens.js';
import { connectServer } from '../../remote/client.js';
import { parseSse } from '../../remote/sse.js';
import { closeStore, openStore, type Store } from '../../store/db.js';
import { tagStoreError } from '../../store/location.js';
import { until } from '../../testing/until.js';
import { buildApp } from '../app.js';
import { ServerCore } from '../core.js';

describe('the event stream while the store does not answer', () => {
  let dir: string;
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  let admin: string;
  let url: string;
  const read = { failing: undefined as (() => Error) | undefined, failed: 0 };
  const logged: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-events-route-test-'));
    db = await openStore(dir);
    admin = (await bootstrapAdmin(db))!.token;
    core = new ServerCore(dir, db, {});
    const real = core.events.after.bind(core.events);
    core.events.after = async (seq, rollout) => {
      if (read.failing) {
        read.failed++;
        throw read.failing();
      }
      return real(seq, rollout);
    };
    app = await buildApp(core, { log: { write: (line) => void logged.push(line) } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    core.events.closeStreams();
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    return tagStoreError(error, 'PostgreSQL berth@127.0.0.1:5432/berth') as Error;
  };

  it('a replay that cannot read the store waits for it, then carries the stored and the live events in order, once each', async () => {
    const stored = [(await core.events.publish('test', { n: 1 })).seq, (await core.events.publish('test', { n: 2 })).seq];
    read.failed = 0;
    read.failing = refused;
    const client = connectServer({ url: new URL(url), token: admin });
    const controller = new AbortController();
    const res = await client.stream(`/v1/events?after=${stored[0]! - 1}`, {}, controller.signal);
    assert.equal(res.statusCode, 200);
    await until('the replay to fail twice on the store', async () => (read.failed >= 2 ? true : undefined), 30_000, 10);
    // Published while the replay cannot read: live, it must neither be lost nor come before the stored ones.
    await core.events.publish('test', { n: 3 });
    read.failing = undefined;
    const got: number[] = [];
    const ids: number[] = [];
    // Bounded: before the fix the stream stayed open and silent; the bound turns that into a failure, it measures nothing.
    const bound = setTimeout(() => controller.abort(), 30_000);
    try {
      for await (const e of parseSse(res)) {
        if (e.event !== 'test') continue;
        got.push((JSON.parse(e.data) as { n: number }).n);
        ids.push(Number(e.id));
        if (got.length === 3) break;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      clearTimeout(bound);
      res.destroy();
      client.close();
    }
    assert.deepEqual(got, [1, 2, 3], 'the stream carries the stored events, then the live one, once the store answers');
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  });

  it('a replay that fails for another reason than the store ends the stream (its client resumes with Last-Event-ID)', async () => {
    read.failed = 0;
    read.failing = () => new Error('a bug in the reader');
    const client = connectServer({ url: new URL(url), token: admin });
    try {
      const ended = client.stream('/v1/events?after=0', {}).then(
        (res) => new Promise<void>((resolve) => res.once('end', () => resolve()).once('close', () => resolve()).once('error', () => resolve()).resume()),
        () => undefined,
      );
      await ended;
      assert.equal(read.failed, 1, 'read once, not retried');
      assert.ok(logged.some((line) => line.includes('a bug in the reader')), `the server's log has the failure: ${logged.join('')}`);
    } finally {
      read.failing = undefined;
      client.close();
    }
  });
});
