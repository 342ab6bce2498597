/** One simulated deploy process of the IPAM property test: its own store connection, its own slots. */
import { parentPort, workerData } from 'node:worker_threads';
import { closeStore, openStore } from '../store/db.js';
import { Driver, prng, sharedClock } from './ipam-fuzz.js';
import { Ipam, type Pool } from './ipam.js';

export interface WorkerSetup {
  name: string;
  dir: string;
  pool: Pool;
  seed: number;
  slots: string[];
  clock: SharedArrayBuffer;
  busyTimeoutMs: number;
}

export type WorkerReply = { events: Driver['events']; live: string[]; calls: number } | { fatal: string };

const setup = workerData as WorkerSetup;
const tick = sharedClock(setup.clock);
const lastTick = { value: -1 };
const db = await openStore(setup.dir, { busyTimeoutMs: setup.busyTimeoutMs });
const ipam = new Ipam(db, [setup.pool], () => (lastTick.value = tick()));
const driver = new Driver(setup.name, ipam, setup.pool, prng(setup.seed), setup.slots, lastTick);

// The parent sends the next steps only after this reply, so the steps of two messages never interleave.
parentPort!.on('message', async (message: { steps: number } | 'reconciled' | 'close') => {
  if (message === 'close') return void closeStore(db).then(() => parentPort!.close());
  if (message === 'reconciled') return driver.reconciled();
  try {
    driver.events.length = 0;
    driver.calls = 0;
    for (let i = 0; i < message.steps; i++) await driver.step();
    parentPort!.postMessage({ events: driver.events, live: driver.live(), calls: driver.calls } satisfies WorkerReply);
  } catch (error) {
    parentPort!.postMessage({ fatal: (error as Error).stack ?? String(error) } satisfies WorkerReply);
  }
});
