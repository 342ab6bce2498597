/**
 * A door pair on the lab (testing/door-pair.ts): two lab hosts each run the door of one service
 * and keepalived beside it, sharing an address on the LAN. A LAN namespace sends requests
 * through the shared address while the member that holds it crashes (its link goes down, then
 * its dockerd stops): the other member takes the address. The test asserts the takeover and that
 * requests succeed after it; it reports, and does not assert, the failed requests and the time
 * from the crash to the first success (bench/door-takeover.ts measures them over several rounds).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crashHolderUnderLoad, DOOR_PAIR_ENV, startDoorPair, stopFileIn, type DoorPair } from '../testing/door-pair.js';
import { claimTestDir, type TestDir } from '../testing/fixture.js';
import { takeoverFigures } from '../testing/takeover.js';
import { until } from '../testing/until.js';
import { ensureFrontDoor, frontDoorStatus } from './front-door.js';
import { vrrpContainerName } from './vrrp-container.js';

describe('a door pair on the lab: the member that holds the shared address crashes under load', () => {
  let owned: TestDir;
  let pair: DoorPair;

  before(async () => {
    owned = await claimTestDir();
    pair = await startDoorPair({ project: owned.name, dir: owned.dir });
  });

  after(async () => {
    try {
      await pair?.dispose();
    } finally {
      await owned?.cleanup();
    }
  });

  it('one member takes the address and serves through it; when it crashes the other takes it and serves', async () => {
    const { lab, spec, place, shared } = pair;
    try {
      await ensureFrontDoor(spec, place);
      for (const h of lab.hosts) assert.equal((await pair.engines.get(h.name)!.containers.inspect(vrrpContainerName(owned.name, DOOR_PAIR_ENV)))?.running, true, `keepalived runs on ${h.name}`);
      const holder = await until(`one member holds ${shared}`, async () => {
        const held = await pair.holders();
        return held.length === 1 ? held[0] : undefined;
      });
      const missed: string[] = [];
      const first = await until(`a request through ${shared} is served`, async () => {
        const answer = await pair.lan.fetch(pair.url, 5);
        if (answer.ok) return answer;
        missed.push(answer.body);
        throw new Error(answer.body);
      });
      assert.equal(first.body, 'served');
      if (missed.length > 0) console.log(`# before the first answer through ${shared}: ${missed.length} failed (${missed.join('; ')})`);
      const status = await frontDoorStatus(spec, place);
      assert.equal(status.address, `${shared}:${spec.bind.port}`);
      assert.deepEqual(status.members.map((m) => [m.host, m.state, m.role, m.keepalived]).sort(), lab.hosts.map((h) => [h.name, 'running', h === holder ? 'MASTER' : 'BACKUP', 'running']).sort());

      const { requests, crash, takenAt, other } = await crashHolderUnderLoad(pair, holder, stopFileIn(owned.dir));
      const figures = takeoverFigures(requests, crash);
      // The whole timeline, relative to the crash, in case an assertion below fails.
      const timeline = requests.map(([start, end, ok]) => `${start - crash.done}..${end - crash.done}${ok ? '' : ' failed'}`).join(', ');
      assert.ok(figures.before.sent > 0 && figures.before.failed === 0, `every request that ended before the crash succeeded: ${JSON.stringify(figures)}; ${timeline}`);
      assert.ok(figures.firstSuccessMs !== undefined, `a request started after the crash succeeded: ${timeline}`);
      assert.equal(figures.failedAfterFirstSuccess, 0, `after the first success every request succeeded: ${timeline}`);
      const afterStatus = await frontDoorStatus(spec, place);
      assert.deepEqual(afterStatus.members.map((m) => [m.host, m.state, m.role]).sort(), lab.hosts.map((h) => [h.name, h === holder ? 'unknown' : 'running', h === holder ? '' : 'MASTER']).sort());
      console.log(
        `# door pair takeover: ${requests.length} requests; before the crash ${figures.before.sent} (${figures.before.failed} failed), ` +
          `in flight at it ${figures.during.sent} (${figures.during.failed} failed), after it ${figures.after.sent} (${figures.after.failed} failed, all before the first success); ` +
          `first success ${figures.firstSuccessMs} ms after the link went down; ${other.name} held the address ${takenAt - crash.done} ms after (seen by polling)`,
      );
    } catch (error) {
      console.log(await pair.diagnosis());
      throw error;
    }
  });
});
