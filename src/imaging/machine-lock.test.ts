import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withMachineLock } from './machine-lock.js';

describe('a lock between the processes of a machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-machine-lock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one holder work at a time, the others waiting their turn', async () => {
    const lock = join(dir, 'a', 'door.lock');
    const seen: string[] = [];
    let inside = 0;
    const work = (name: string) => withMachineLock(lock, async () => {
      inside++;
      assert.equal(inside, 1, `${name} works alone`);
      seen.push(`${name} in`);
      await new Promise((resolve) => setTimeout(resolve, 30));
      seen.push(`${name} out`);
      inside--;
      return name;
    }, { pollMs: 5 });
    assert.deepEqual(await Promise.all([work('one'), work('two'), work('three')]), ['one', 'two', 'three']);
    assert.equal(seen.length, 6);
    for (let i = 0; i < 6; i += 2) assert.equal(seen[i]!.replace(' in', ''), seen[i + 1]!.replace(' out', ''), 'no one entered while another held it');
    assert.equal(existsSync(lock), false, 'let go at the end');
  });

  it('is let go when the work fails', async () => {
    const lock = join(dir, 'failing.lock');
    await assert.rejects(withMachineLock(lock, async () => { throw new Error('bootstrap failed'); }), /bootstrap failed/);
    assert.equal(existsSync(lock), false);
  });

  it('takes over the lock of a holder that died, and one whose holder died before writing its pid', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const lock = join(dir, 'dead.lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), `${dead.stdout}\n`);
    assert.equal(await withMachineLock(lock, async () => 'taken', { pollMs: 5 }), 'taken');

    mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    assert.equal(await withMachineLock(lock, async () => 'taken again', { pollMs: 5 }), 'taken again');
  });

  it('waits for a live holder, naming it once', async () => {
    const lock = join(dir, 'live.lock');
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), `${process.pid}\n`);
    const waited: number[] = [];
    const held = withMachineLock(lock, async () => 'mine', { pollMs: 5, onWait: (pid) => waited.push(pid) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    rmSync(lock, { recursive: true });
    assert.equal(await held, 'mine');
    assert.deepEqual(waited, [process.pid]);
  });
});
