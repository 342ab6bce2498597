/**
 * Door pair takeover benchmark (issue 22), on the lab (testing/door-pair.ts): two lab hosts run
 * one door each and keepalived beside it, sharing an address; a LAN namespace sends requests one
 * after another (each given up after 1 s) through the shared address while the member that holds
 * it crashes (its link down, then its dockerd stopped). Per round, on a fresh lab: the time from
 * the crash to the first success through the shared address, the failed requests (in flight at
 * the crash, and after it), and when the other member was seen holding the address. Medians over
 * the rounds, against the goal (first success < 4 s; failed: only those in flight at the
 * crash). Removes everything it made, on failure and on Ctrl-C too. Writes BENCHMARKS.md.
 *
 * Run: npm run bench:door-takeover -- [--rounds N] (or, built: node dist/bench/door-takeover.js [--rounds N])
 */
import { ensureFrontDoor } from '../src/lb/front-door.js';
import { crashHolderUnderLoad, startDoorPair, stopFileIn } from '../src/testing/door-pair.js';
import { claimTestDir } from '../src/testing/fixture.js';
import { takeoverFigures } from '../src/testing/takeover.js';
import { until } from '../src/testing/until.js';
import { invocation, loadNote, machine, median, ms, positiveFlag, writeSection } from './lib.js';

const ROUNDS = positiveFlag('--rounds') ?? 3;

interface Round {
  firstSuccessMs: number;
  takenMs: number;
  sent: number;
  failedDuring: number;
  failedAfter: number;
  failedAfterFirstSuccess: number;
}

async function round(): Promise<Round> {
  const owned = await claimTestDir();
  try {
    const pair = await startDoorPair({ project: owned.name, dir: owned.dir });
    try {
      await ensureFrontDoor(pair.spec, pair.place);
      const holder = await until(`one member holds ${pair.shared}`, async () => {
        const held = await pair.holders();
        return held.length === 1 ? held[0] : undefined;
      });
      await until(`a request through ${pair.shared} is served`, async () => ((await pair.lan.fetch(pair.url, 5)).ok ? true : undefined));
      const { requests, crash, takenAt } = await crashHolderUnderLoad(pair, holder, stopFileIn(owned.dir));
      const figures = takeoverFigures(requests, crash);
      if (figures.firstSuccessMs === undefined) throw new Error(`no request succeeded after the crash: ${JSON.stringify(requests)}`);
      return {
        firstSuccessMs: figures.firstSuccessMs,
        takenMs: takenAt - crash.done,
        sent: requests.length,
        failedDuring: figures.during.failed,
        failedAfter: figures.after.failed,
        failedAfterFirstSuccess: figures.failedAfterFirstSuccess,
      };
    } finally {
      await pair.dispose();
    }
  } finally {
    await owned.cleanup();
  }
}

async function main(): Promise<void> {
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const r = await round();
    rounds.push(r);
    console.log(`round ${i}: first success ${ms(r.firstSuccessMs)} after the crash; address seen on the other member after ${ms(r.takenMs)}; ${r.sent} requests, failed ${r.failedDuring} in flight at the crash + ${r.failedAfter} after it (${r.failedAfterFirstSuccess} after the first success)`);
  }
  const each = (pick: (r: Round) => number, format: (v: number) => string = String) => `${format(median(rounds.map(pick)))} (${rounds.map((r) => format(pick(r))).join(', ')})`;
  writeSection(
    'door-takeover',
    [
      '## Door pair takeover on the lab (issue 22)',
      '',
      `Reproduce: \`npm run build && ${invocation('door-takeover')}\`. Machine: ${machine()}; ${loadNote()}. Shared with other sessions' test suites while it ran.`,
      '',
      `Two lab hosts each run the door of one service (HAProxy in Berth's door container) and keepalived beside it (\`berth-vrrp-<project>-<env>\`: unicast peers, \`nopreempt\`, advertisement every 1 s, the door check tracked), sharing one address; the service is a node server on this machine. A LAN namespace sends GETs one after another through the shared address, each given up after 1 s, 50 ms apart after a failure. The member that holds the address crashes: its link down, then its dockerd stopped. A fresh lab per round; ${ROUNDS} rounds, median (each round).`,
      '',
      '| measure | median (rounds) | goal |',
      '|---|---|---|',
      `| crash → first success through the shared address | ${each((r) => r.firstSuccessMs, ms)} | < 4 s |`,
      `| crash → the other member seen holding the address (polled every 50 ms) | ${each((r) => r.takenMs, ms)} | |`,
      `| requests sent / failed in flight at the crash | ${each((r) => r.sent)} / ${each((r) => r.failedDuring)} | |`,
      `| failed, started after the crash | ${each((r) => r.failedAfter)} | 0 |`,
      `| failed, started after the first success | ${each((r) => r.failedAfterFirstSuccess)} | 0 |`,
      '',
      'keepalived\'s backup takes the address 3 × the advertisement interval plus a skew of (256 − priority) / 256 s after the last advertisement it heard (3.22 s here, priorities 200 and 199), so 2.2–3.2 s after the crash depending on when the last one left: that is the floor of this design at a 1 s interval. The requests that fail after the crash are those sent before the other member takes the address; a request sent just before waits out its 1 s, so the first success can come up to about 1 s after the takeover (round 1). A client that waits longer than 1 s would see them answered once the address moved (TCP retries its SYN). No peer ran beside it in this run.',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
