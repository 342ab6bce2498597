/**
 * Integration, through the real `berth` command, as an adversarial operator:
 * rollouts that lied or got stuck. One service behind its front door on a flat
 * network whose pool has 8 addresses, in dev and production (2 instances).
 * The steps build on each other (each says what it needs): a rollback only to
 * what production ran (or --force, recorded); a promote whose stdout is closed
 * after one line still finishes; "nothing to do" only when every slot runs the
 * release, a container removed by hand shown as missing and recreated; scale
 * refused beyond the pool, the ceiling or to 0 without --force; Ctrl-C saying
 * where it stopped, the same command finishing it, `berth rollout abandon`
 * ending another; a read-only or damaged store; small bad input.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { buildProject } from '../../imaging/builder.js';
import { loadProject } from '../../config/project.js';
import { Hosts } from '../../runtime/hosts.js';
import { listInstances } from '../../runtime/instances.js';
import { removeInstances } from '../../release/operate.js';
import { removeNetwork } from '../../network/docker-network.js';
import { openStore, STORE_FILE, type Store, closeStore, sqliteOf } from '../../store/db.js';
import { currentRelease, releaseOf, rolloutById, rolloutsOf } from '../../store/releases.js';
import { leaseOf, takeOverLease, type Lease } from '../../store/leases.js';
import { BERTH_BIN, berthOn, showOutcome, type CliOutcome } from '../../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../../testing/fixture.js';
import { randomTestPrefix } from '../../testing/test-subnet.js';

const run = promisify(execFile);

interface Ps {
  slot: string;
  name: string;
  id: string;
  ip: string | null;
  state: string;
  digest: string;
}

describe('rollouts that lied or got stuck, through the berth command', () => {
  let fixture: Fixture;
  let db: Store;
  let bridge: string;
  const svc = `op${randomBytes(3).toString('hex')}`;
  const images = { A: '', B: '' };
  /** Release numbers as the steps create them. */
  const rel = { A: 0, B: 0 };
  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\n`;

  const berth = (args: string[], env = fixture.env): Promise<CliOutcome> => berthOn(fixture, args, { env });
  const show = showOutcome;
  const ok = async (args: string[]) => {
    const out = await berth(args);
    assert.equal(out.code, 0, show(out));
    return out;
  };
  const ps = async (environment: string): Promise<Ps[]> => JSON.parse((await ok(['ps', '--env', environment, '--service', svc, '--json'])).stdout).instances as Ps[];
  const lb = async (environment: string) => {
    const doors = JSON.parse((await ok(['lb', '--env', environment, '--json'])).stdout).frontDoors as { service: string; servers: { name: string; host: string; address: string; state: string }[] }[];
    const servers = doors.find((d) => d.service === svc)!.servers;
    // Every backend names the host its instance is on: this project has one.
    assert.deepEqual([...new Set(servers.map((s) => s.host))], servers.length > 0 ? ['local'] : []);
    return servers.map((s) => [s.name, s.state]).sort();
  };
  const lastRollout = async (environment: string) => (await rolloutsOf(db, svc, environment))[0]!;
  const locks = () => sqliteOf(db).prepare('SELECT * FROM leases').all();

  /** Runs the CLI until a line of its output matches `when`, then sends it `signal`; resolves with how it ended. */
  function interruptWhen(args: string[], when: RegExp, signal: NodeJS.Signals = 'SIGINT'): Promise<CliOutcome & { sent: boolean }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BERTH_BIN, ...args, '-p', fixture.dir], { env: fixture.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let sent = false;
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        if (!sent && when.test(stdout)) sent = child.kill(signal);
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      child.once('error', reject);
      child.once('close', (code, sig) => resolve({ code, signal: sig, stdout, stderr, ms: 0, sent }));
    });
  }

  before(async () => {
    const prefix = randomTestPrefix();
    bridge = `bo${randomBytes(3).toString('hex')}`;
    const lan = { network: 'lan', lb_address: '127.0.0.1' };
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('A') },
      },
      {
        networks: {
          lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.17`, create_bridge: true, quarantine: '0s' },
        },
        services: {
          [svc]: { image: 'web', ports: [8080], health: { http: '/', interval: '2s', timeout: '1s', retries: 3 }, stop_grace: '2s', rollout: { batch_size: 1, max_unavailable: 1, drain: '1s' } },
        },
        environments: { dev: lan, production: { ...lan, services: { [svc]: { replicas: 2 } } } },
        pipeline: ['dev', 'production'],
      },
    );
    const project = loadProject(fixture.dir, fixture.env);
    db = await openStore(project.stateDir);
    for (const version of ['A', 'B'] as const) {
      fixture.write('images/web/static.sh', page(version), 0o755);
      const summary = await buildProject(loadProject(fixture.dir, fixture.env), fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
  });

  after(async () => {
    if (!fixture) return;
    const project = loadProject(fixture.dir, fixture.env);
    const context = { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
    for (const environment of ['dev', 'production']) {
      const left = await listInstances(context, { environment }).catch(() => []);
      if (left.length > 0) await removeInstances(context, left, environment).catch(() => {});
    }
    await removeNetwork(fixture.engine, `berth-${fixture.name}-lan`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  it('a rollback goes only to a release production ran before; --force passes and is recorded as forced', async () => {
    await ok(['release', svc, '--env', 'dev', '--image', images.A]);
    rel.A = (await currentRelease(db, svc, 'dev'))!;
    await ok(['promote', svc, '--to', 'production']);
    await ok(['release', svc, '--env', 'dev', '--image', images.B]);
    rel.B = (await currentRelease(db, svc, 'dev'))!;
    assert.equal(await currentRelease(db, svc, 'production'), rel.A);

    const before = (await rolloutsOf(db, svc)).length;
    const refused = await berth(['rollback', svc, '--env', 'production', '--to', String(rel.B)]);
    assert.equal(refused.code, 4, show(refused));
    assert.match(refused.stderr, new RegExp(`release ${rel.B} of ${svc} has never run in production \\(it ran in dev\\)`));
    assert.match(refused.stderr, new RegExp(`fix: promote it instead \\(berth promote ${svc} --to production --from dev\\), or pass --force`));
    assert.equal((await rolloutsOf(db, svc)).length, before, 'a refused rollback recorded a rollout');

    await ok(['rollback', svc, '--env', 'production', '--to', String(rel.B), '--force']);
    assert.deepEqual([(await lastRollout('production')).kind, (await lastRollout('production')).release, (await lastRollout('production')).forced], ['rollback', rel.B, true]);
    // Back to A, which production ran: an ordinary rollback.
    await ok(['rollback', svc, '--env', 'production']);
    assert.deepEqual([(await lastRollout('production')).release, (await lastRollout('production')).status, (await lastRollout('production')).forced], [rel.A, 'succeeded', false]);
  });

  it('a promote whose stdout is closed after its first line still finishes, and its exit code says so (needs: production runs A, dev B)', async () => {
    const child = spawn(process.execPath, [BERTH_BIN, 'promote', svc, '--to', 'production', '-p', fixture.dir], { env: fixture.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let stderr = '';
    child.stdout.once('data', (chunk: Buffer) => {
      first = String(chunk);
      // The reader goes away, as `| head -1` does.
      child.stdout.destroy();
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    assert.match(first, /\[1\/\d+\]/);
    assert.equal(code, 0, stderr);
    const promoted = await lastRollout('production');
    assert.deepEqual([promoted.kind, promoted.release, promoted.status], ['promote', rel.B, 'succeeded']);
    const instances = await ps('production');
    const digest = (await releaseOf(db, svc, rel.B))!.digest;
    assert.deepEqual(instances.map((i) => [i.state, i.digest]), [['running', digest], ['running', digest]]);
    assert.deepEqual(locks(), []);
  });

  it('"nothing to do" only when every slot runs the release: a container removed by hand is shown missing, then recreated on its address (needs: production runs B)', async () => {
    const again = await berth(['promote', svc, '--to', 'production']);
    assert.equal(again.code, 4, show(again));
    assert.match(again.stderr, new RegExp(`production already runs release ${rel.B} of ${svc} in every slot`));

    const [gone, kept] = await ps('production');
    await fixture.engine.containers.remove(gone!.id);
    const shown = await ps('production');
    assert.deepEqual(shown.map((i) => [i.slot, i.state, i.ip]), [[gone!.slot, 'missing', gone!.ip], [kept!.slot, 'running', kept!.ip]]);
    const table = await ok(['ps', '--env', 'production']);
    assert.match(table.stdout, new RegExp(`missing: ${gone!.slot} \\(no container`));
    assert.deepEqual(await lb('production'), [[gone!.slot, 'missing'], [kept!.slot, 'ready']].sort());

    await ok(['promote', svc, '--to', 'production']);
    const back = await ps('production');
    assert.deepEqual(back.map((i) => [i.slot, i.state, i.ip]), [[gone!.slot, 'running', gone!.ip], [kept!.slot, 'running', kept!.ip]]);
    assert.equal(back[1]!.id, kept!.id, 'the instance that ran was replaced');
    assert.deepEqual(await lb('production'), [[gone!.slot, 'ready'], [kept!.slot, 'ready']].sort());

    // berth restart brings a missing one back too.
    await fixture.engine.containers.remove(back[1]!.id);
    const restart = await ok(['restart', svc, '--env', 'production']);
    assert.match(restart.stdout, new RegExp(`✓ ${kept!.slot}: recreated on its slot \\(${kept!.ip!.replace(/\./g, '\\.')}\\)`));
    assert.deepEqual((await ps('production')).map((i) => [i.slot, i.state, i.ip]), [[gone!.slot, 'running', gone!.ip], [kept!.slot, 'running', kept!.ip]]);
  });

  it('scale: refused beyond the ceiling and the pool, and to 0 without --force; nothing recorded (needs: production runs 2)', async () => {
    const before = (await rolloutsOf(db, svc)).length;
    const huge = await berth(['scale', `${svc}=1000000`, '--env', 'production']);
    assert.equal(huge.code, 2, show(huge));
    assert.match(huge.stderr, /1000000 instances .* is more than Berth runs per service and environment \(1000\)/);
    // 8 addresses: dev's slot holds one, production's two; 5 free.
    const tooMany = await berth(['scale', `${svc}=20`, '--env', 'production']);
    assert.equal(tooMany.code, 2, show(tooMany));
    assert.match(tooMany.stderr, /address pool of network "lan" has room for 7 instance\(s\) of .* \(2 address\(es\) its slots hold, 5 free\), not 20/);
    const zero = await berth(['scale', `${svc}=0`, '--env', 'production']);
    assert.equal(zero.code, 2, show(zero));
    assert.match(zero.stderr, new RegExp(`scaling ${svc} to 0 in production removes every instance[\\s\\S]*fix: .*--force`));
    assert.equal((await rolloutsOf(db, svc)).length, before);
    assert.equal((await ps('production')).length, 2);
  });

  it('Ctrl-C says where the rollout stopped and how to resume or abandon it; the same command finishes it and says so (needs: production runs B)', async () => {
    const stopped = await interruptWhen(['rollback', svc, '--env', 'production', '--to', String(rel.A)], /: starting/);
    assert.ok(stopped.sent, show(stopped));
    assert.equal(stopped.code, 130, show(stopped));
    const id = Number(/rollout #(\d+) \(rollback of \S+ release \d+ in production\) stopped at step \d+ of \d+/.exec(stopped.stderr)?.[1]);
    assert.ok(id > 0, show(stopped));
    assert.match(stopped.stderr, /resume it: run the same command again/);
    assert.match(stopped.stderr, new RegExp(`or abandon it: berth rollout abandon ${id} -p `));
    const open = JSON.parse((await ok(['rollout', 'ls', '--json'])).stdout).rollouts as { id: number; state: string }[];
    assert.deepEqual(open.map((r) => [r.id, r.state]), [[id, 'interrupted']]);

    const resumed = await ok(['rollback', svc, '--env', 'production', '--to', String(rel.A)]);
    assert.match(resumed.stdout, new RegExp(`finished the interrupted rollout #${id}`));
    assert.deepEqual([(await rolloutById(db, id))!.status, await currentRelease(db, svc, 'production')], ['succeeded', rel.A]);
    assert.deepEqual(locks(), []);
  });

  it('berth rollout abandon ends an interrupted rollout and converges on what runs; the next command does what it is asked (needs: production runs A)', async () => {
    const stopped = await interruptWhen(['promote', svc, '--to', 'production'], /: starting/);
    assert.equal(stopped.code, 130, show(stopped));
    const id = Number(/rollout #(\d+)/.exec(stopped.stderr)?.[1]);
    assert.ok(id > 0, show(stopped));
    const during = await ps('production');
    assert.ok(during.every((i) => ['running', 'set-aside', 'created', 'exited', 'missing'].includes(i.state)), JSON.stringify(during));

    // While a live process holds its lease, the rollout is not interrupted: abandon refuses.
    const lock = await leaseOf(db, svc, 'production') as Lease;
    assert.equal(lock.rollout, id);
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const holdAs = async (pid: number, holder: string) => assert.ok(await takeOverLease(db, (await leaseOf(db, svc, 'production'))!, { service: svc, environment: 'production', rollout: id, pid, hostname: lock.hostname, holder }, 60_000));
    try {
      await holdAs(sleeper.pid!, `${lock.hostname}:${sleeper.pid}:test`);
      const refused = await berth(['rollout', 'abandon', String(id)]);
      assert.equal(refused.code, 4, show(refused));
      assert.match(refused.stderr, new RegExp(`rollout #${id} of ${svc} in production is not interrupted: berth process ${sleeper.pid} .* still runs it`));
      assert.equal((await rolloutById(db, id))!.status, 'running');
    } finally {
      await holdAs(lock.pid, lock.holder);
      sleeper.kill('SIGKILL');
    }

    const abandoned = await ok(['rollout', 'abandon', String(id), '--json']);
    const result = JSON.parse(abandoned.stdout) as { running: string[]; message: string };
    assert.match(result.message, /^abandoned by .*: stopped after step \d+ of \d+; converged on what runs/);
    const record = (await rolloutById(db, id))!;
    assert.equal(record.status, 'abandoned');
    assert.deepEqual(locks(), []);
    const after = await ps('production');
    assert.deepEqual(after.map((i) => [i.slot, i.state]), result.running.map((slot) => [slot, 'running']));
    assert.deepEqual(after.map((i) => i.slot).sort(), during.filter((i) => i.state !== 'missing').map((i) => i.slot).filter((s, n, all) => all.indexOf(s) === n).sort());
    assert.deepEqual(await lb('production'), after.map((i) => [i.slot, 'ready']).sort());

    const twice = await berth(['rollout', 'abandon', String(id)]);
    assert.equal(twice.code, 4, show(twice));
    assert.match(twice.stderr, /has already ended \(abandoned\)/);
    // Nothing left to resume: the promote does what it was asked.
    const promote = await ok(['promote', svc, '--to', 'production']);
    assert.doesNotMatch(promote.stdout, /interrupted/);
    assert.deepEqual([(await lastRollout('production')).kind, (await lastRollout('production')).release, (await lastRollout('production')).status], ['promote', rel.B, 'succeeded']);
  });

  it('abandon puts a set-aside container back under its slot and address when no main container runs (needs: production runs B)', async () => {
    // Killed (SIGKILL, no notice) at each checkpoint in turn until a slot is left with only its set-aside container.
    let found: { id: number; aside: Ps } | undefined;
    for (let n = 1; n <= 12 && !found; n++) {
      const killed = await berthOn(fixture, ['rollback', svc, '--env', 'production', '--to', String(rel.A)], { killAt: n });
      if (killed.signal !== 'SIGKILL') {
        assert.equal(killed.code, 0, `not killed at checkpoint ${n}, and not finished either: ${show(killed)}`);
        break;
      }
      const id = (await lastRollout('production')).id;
      const now = await ps('production');
      const aside = now.find((i) => i.state === 'set-aside' && !now.some((m) => m.slot === i.slot && m.state === 'running'));
      if (aside) found = { id, aside };
      else await ok(['rollout', 'abandon', String(id)]);
    }
    assert.ok(found, 'no checkpoint left a slot with only its set-aside container');
    const result = JSON.parse((await ok(['rollout', 'abandon', String(found.id), '--json'])).stdout) as { restored: string[] };
    assert.deepEqual(result.restored, [found.aside.slot]);
    const after = await ps('production');
    const slot = after.find((i) => i.slot === found!.aside.slot)!;
    assert.deepEqual([slot.state, slot.id, slot.ip], ['running', found.aside.id, found.aside.ip]);
    assert.ok(after.every((i) => i.state === 'running'), JSON.stringify(after));
    assert.deepEqual(await lb('production'), after.map((i) => [i.slot, 'ready']).sort());
    assert.deepEqual(locks(), []);
  });

  it('a hang-up (the terminal gone) in the middle of a rollout does not stop it (needs: production runs B)', async () => {
    const hungUp = await interruptWhen(['rollback', svc, '--env', 'production', '--to', String(rel.A)], /: starting/, 'SIGHUP');
    assert.ok(hungUp.sent, show(hungUp));
    assert.equal(hungUp.code, 0, show(hungUp));
    assert.match(hungUp.stdout, new RegExp(`release ${rel.A} in production: succeeded`));
    assert.deepEqual([(await lastRollout('production')).release, (await lastRollout('production')).status], [rel.A, 'succeeded']);
    assert.deepEqual(locks(), []);
  });

  it('a store that cannot be written, or is damaged, is unavailable (exit 5) naming the file and what to do', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'berth-ro-'));
    const damaged = mkdtempSync(join(tmpdir(), 'berth-bad-'));
    const file = join(copy, STORE_FILE);
    try {
      sqliteOf(db).exec(`VACUUM INTO '${file}'`);
      await run('chattr', ['+i', file]);
      const readOnly = await berth(['scale', `${svc}=2`, '--env', 'production'], { ...fixture.env, BERTH_STATE_DIR: copy });
      assert.equal(readOnly.code, 5, show(readOnly));
      assert.match(readOnly.stderr, new RegExp(`error \\(unavailable\\): Berth's store ${file} cannot be written: attempt to write a readonly database`));
      assert.match(readOnly.stderr, /fix: make .* writable/);
      assert.doesNotMatch(readOnly.stderr, /bug in Berth/);

      writeFileSync(join(damaged, STORE_FILE), 'not a database, whatever it once was '.repeat(40));
      const corrupt = await berth(['ps'], { ...fixture.env, BERTH_STATE_DIR: damaged });
      assert.equal(corrupt.code, 5, show(corrupt));
      assert.match(corrupt.stderr, new RegExp(`store ${join(damaged, STORE_FILE)} is damaged`));
      assert.match(corrupt.stderr, /fix: restore .* from a backup/);
    } finally {
      await run('chattr', ['-i', file]).catch(() => {});
      rmSync(copy, { recursive: true, force: true });
      rmSync(damaged, { recursive: true, force: true });
    }
  });

  it('small bad input: an unknown environment, negative numbers, a share without %', async () => {
    const nope = await berth(['ps', '--env', 'producton']);
    assert.equal(nope.code, 3, show(nope));
    assert.match(nope.stderr, /unknown environment "producton".*production/);
    const negative = await berth(['rollback', svc, '--env', 'production', '--to', '-1']);
    assert.equal(negative.code, 2, show(negative));
    assert.match(negative.stderr, /--to must be a whole number above 0, got "-1"/);
    for (const share of ['10', '10.5%', '-5%']) {
      const bad = await berth(['promote', svc, '--to', 'production', '--canary', share]);
      assert.equal(bad.code, 2, show(bad));
      assert.match(bad.stderr, new RegExp(`--canary takes a whole percentage .* got "${share.replace('.', '\\.')}"`));
    }
  });
});
