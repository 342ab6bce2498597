/** The supervisor on real tiny processes (node -e scripts): start detached, wait until ready, stop, find by pid file. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { failed, isBerthError } from '../errors.js';
import { isAlive } from '../processes.js';
import { until } from '../testing/until.js';
import { logTail, startDetached, waitReady, type DetachedSpec, type Started } from './detached.js';
import { readPidFile, runningFromPidFile, stillRuns } from './pid.js';
import { stopProcess, termThenKill } from './stop.js';

const NODE = { name: 'node', what: 'the test program', debianPackage: 'nodejs' };
/** Writes "ready" to its log, then stays until a signal; `handlers` reacts to signals. */
const server = (handlers = '') => `${handlers}; console.log('ready'); setInterval(() => {}, 1000);`;

describe('supervisor: a detached process', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-supervisor-'));
  const started: Started[] = [];
  let count = 0;

  after(async () => {
    for (const s of started) await stopProcess(s, [{ signal: 'SIGKILL', graceMs: 0 }]);
    rmSync(root, { recursive: true, force: true });
  });

  const spec = (script: string, extra: Partial<DetachedSpec> = {}): DetachedSpec => {
    count += 1;
    const dir = join(root, `p${count}`);
    return { program: NODE, file: process.execPath, args: ['-e', script, join(dir, 'config')], log: `${dir}.log`, pidFile: `${dir}.pid`, ...extra };
  };
  const start = (s: DetachedSpec): Started => {
    const one = startDetached(s);
    started.push(one);
    return one;
  };
  const readyWhenLogged = (one: Started) => async () => one.logged().includes('ready');
  const waitFor = (one: Started, timeoutMs = 60_000) =>
    waitReady(one, { probe: readyWhenLogged(one), timeoutMs, intervalMs: 10, timedOut: () => failed('not ready in time'), stop: termThenKill(5000) });

  it('starts in its own session with its pid file and log, and is found by its pid file and argument', async () => {
    const s = spec(server());
    const one = start(s);
    await waitFor(one);
    assert.equal(readPidFile(s.pidFile), one.pid);
    const stat = readFileSync(`/proc/${one.pid}/stat`, 'utf8');
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    assert.equal(session, one.pid, 'detached: the leader of its own session');
    assert.deepEqual(logTail(readFileSync(s.log, 'utf8'), 5), ['ready']);
    assert.deepEqual(runningFromPidFile(s.pidFile, s.args[2]!), { pid: one.pid, start: one.start });
    assert.equal(runningFromPidFile(s.pidFile, join(root, 'another-config')), undefined, 'a process started for another argument is not ours');
  });

  it('is found through another path to the same folder (a linked folder), and not through a link to another one', async () => {
    const real = join(root, 'real-door');
    mkdirSync(real);
    writeFileSync(join(real, 'config'), '');
    const s = spec(server(), { args: ['-e', server(), join(real, 'config')], pidFile: join(real, 'pid'), log: join(real, 'log') });
    const one = start(s);
    await waitFor(one);
    symlinkSync(real, join(root, 'linked-door'));
    assert.deepEqual(runningFromPidFile(join(root, 'linked-door', 'pid'), join(root, 'linked-door', 'config')), { pid: one.pid, start: one.start });
    mkdirSync(join(root, 'other-door'));
    writeFileSync(join(root, 'other-door', 'config'), '');
    assert.equal(runningFromPidFile(s.pidFile, join(root, 'other-door', 'config')), undefined, 'another folder\'s config is not this process\'s');
  });

  it('a pid file naming no process, or no pid, finds nothing', () => {
    const file = join(root, 'stale.pid');
    writeFileSync(file, '999999999\n');
    assert.equal(runningFromPidFile(file, 'x'), undefined);
    writeFileSync(file, 'not a pid\n');
    assert.equal(runningFromPidFile(file, 'x'), undefined);
    assert.equal(runningFromPidFile(join(root, 'absent.pid'), 'x'), undefined);
  });

  it('a program that exits at once: the error has what it logged in this start only; no pid file is left', async () => {
    const s = spec(`console.log('bad config line 3'); console.error('giving up'); process.exit(3)`);
    writeFileSync(s.log, 'an earlier start said this\n');
    const one = start(s);
    await assert.rejects(waitFor(one), (e: unknown) => {
      assert.ok(isBerthError(e));
      assert.equal(e.kind, 'failed');
      assert.equal(e.message, 'node exited right after it started');
      assert.deepEqual(e.lines, ['bad config line 3', 'giving up']);
      assert.equal(e.fix, `see its log ${s.log}`);
      return true;
    });
    assert.equal(existsSync(s.pidFile), false);
  });

  it('the caller explains an exit from the log', async () => {
    const one = start(spec(`console.log('[ALERT] cannot bind socket'); process.exit(1)`));
    const wait = waitReady(one, {
      probe: async () => false,
      timeoutMs: 60_000,
      intervalMs: 10,
      exited: (logged) => failed('it could not listen', { lines: logTail(logged, 1) }),
      timedOut: () => failed('not ready in time'),
      stop: termThenKill(5000),
    });
    await assert.rejects(wait, (e: unknown) => isBerthError(e) && e.message === 'it could not listen' && e.lines[0] === '[ALERT] cannot bind socket');
  });

  it('a program that never gets ready is stopped, its pid file removed, and the timeout reported', async () => {
    const s = spec(server());
    const one = start(s);
    await assert.rejects(
      waitReady(one, { probe: async () => false, timeoutMs: 200, intervalMs: 10, timedOut: () => failed('did not answer'), stop: termThenKill(5000) }),
      (e: unknown) => isBerthError(e) && e.message === 'did not answer',
    );
    assert.equal(stillRuns(one), false);
    assert.equal(existsSync(s.pidFile), false);
  });

  it('a probe that fails (the program cannot work) ends the wait with its error, and the program is stopped', async () => {
    const one = start(spec(server()));
    const broken = failed('its storage is not readable');
    await assert.rejects(
      waitReady(one, { probe: async () => (one.logged().includes('ready') ? Promise.reject(broken) : false), timeoutMs: 60_000, intervalMs: 10, timedOut: () => failed('late'), stop: termThenKill(5000) }),
      (e: unknown) => e === broken,
    );
    assert.equal(stillRuns(one), false);
  });

  it('a program that cannot be run at all names its package', () => {
    const s = spec('', { file: join(root, 'no-such-program') });
    assert.throws(
      () => start(s),
      (e: unknown) => isBerthError(e) && e.message === `cannot start ${s.file}` && e.fix === 'install it: apt-get install nodejs (npm run setup does it)',
    );
  });
});

describe('supervisor: stopping a process', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-stop-'));
  const started: Started[] = [];
  after(async () => {
    for (const s of started) await stopProcess(s, [{ signal: 'SIGKILL', graceMs: 0 }]);
    rmSync(root, { recursive: true, force: true });
  });
  const run = async (name: string, script: string): Promise<Started> => {
    const one = startDetached({ program: NODE, file: process.execPath, args: ['-e', script], log: join(root, `${name}.log`), pidFile: join(root, `${name}.pid`) });
    started.push(one);
    await until(`${name} is ready`, async () => (one.logged().includes('ready') ? true : undefined), 60_000, 10);
    return one;
  };

  it('SIGTERM ends a process that obeys it', async () => {
    const one = await run('obeys', server(`process.on('SIGTERM', () => { console.log('TERM'); process.exit(0); })`));
    await stopProcess(one, termThenKill(60_000));
    assert.equal(isAlive(one.pid), false);
    assert.deepEqual(logTail(one.logged(), 2), ['ready', 'TERM']);
  });

  it('SIGKILL follows the grace when it ignores SIGTERM', async () => {
    const one = await run('ignores', server(`process.on('SIGTERM', () => console.log('TERM ignored'))`));
    await stopProcess(one, termThenKill(300));
    assert.equal(isAlive(one.pid), false);
    assert.deepEqual(logTail(one.logged(), 2), ['ready', 'TERM ignored']);
  });

  it('a gentler first signal: nothing more is sent once it has ended', async () => {
    const one = await run('soft', server(`process.on('SIGUSR1', () => { console.log('USR1'); process.exit(0); }); process.on('SIGTERM', () => console.log('TERM'))`));
    await stopProcess(one, [
      { signal: 'SIGUSR1', graceMs: 60_000 },
      { signal: 'SIGTERM', graceMs: 2000 },
      { signal: 'SIGKILL', graceMs: 0 },
    ]);
    assert.equal(isAlive(one.pid), false);
    assert.deepEqual(logTail(one.logged(), 3), ['ready', 'USR1']);
  });

  it('sends nothing to a pid that now names another process (another start time)', async () => {
    const one = await run('other', server());
    await stopProcess({ pid: one.pid, start: 'not-its-start' }, termThenKill(0));
    assert.equal(stillRuns(one), true, 'the process the pid names now was left alone');
  });
});
