/**
 * How a rollout job's end reaches its followers: a failure is its end (`rollout-failed`), but a
 * server that stopped leading only hands the journaled rollout over, so its followers get a note
 * and go on following until the next leader publishes the end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failed } from '../errors.js';
import type { Store } from '../store/db.js';
import { eventsAfter } from '../store/events.js';
import { LostLeadership } from '../store/leases.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { EventBus } from './events.js';
import { RolloutJobs } from './jobs.js';

let db: Store;
tempStoreForFile('berth-jobs-', (opened) => (db = opened));

/** Runs a job journaled as rollout `id` that then throws `error`; the types of its events and the notes' texts once it ended. */
async function eventsOfFailingJob(id: number, error: Error): Promise<{ types: string[]; notes: string[] }> {
  const jobs = new RolloutJobs(new EventBus(db));
  const started = await jobs.start('tester', async ({ onJournaled }) => {
    await Promise.resolve(); // journaled after the work started, as the executor does
    onJournaled(id);
    await new Promise((r) => setTimeout(r, 10));
    throw error;
  });
  assert.deepEqual(started, { kind: 'started', rollout: id });
  await jobs.drain();
  const events = await eventsAfter(db, 0, { rollout: id });
  return { types: events.map((e) => e.type), notes: events.filter((e) => e.type === 'rollout-progress').map((e) => (e.data as { text: string }).text) };
}

describe('a rollout job that ends in an error', () => {
  it('a failure is published as the rollout\'s end', async () => {
    const { types } = await eventsOfFailingJob(101, failed('health check never passed'));
    assert.deepEqual(types, ['rollout-started', 'rollout-failed']);
  });

  it('a server that stopped leading publishes a note, not an end: the next leader resumes the rollout and ends it', async () => {
    const lost = new LostLeadership('rollout #102 of web in dev stops: this server stopped leading (leader epoch 2: its lease was not renewed in time)', undefined, undefined, 'see berth server status');
    const { types, notes } = await eventsOfFailingJob(102, lost);
    assert.deepEqual(types, ['rollout-started', 'rollout-progress']);
    assert.deepEqual(notes, ['rollout #102 of web in dev stops: this server stopped leading (leader epoch 2: its lease was not renewed in time); the server that leads next resumes it']);
  });
});
