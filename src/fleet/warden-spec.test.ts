/**
 * The warden's loop run by this machine's busybox sh, with a stand-in `curl` that plays the
 * server and the engine (it answers a lease, a refusal or nothing, lists two running instances,
 * and records each stop): instances stop only once the lease the warden holds has ended, at
 * once when the server holds the host down, and at once for a warden that never got a lease.
 * And the container a host runs it in.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WARDEN_IMAGE, WARDEN_SCRIPT, wardenBody } from './warden-spec.js';

/** A curl that logs each lease answer and stop with the time (epoch seconds), answering as `mode` says. */
const STUB = `#!/bin/sh
dir="$STUB_DIR"
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    -w|--max-time|--cacert|-H|-X|--unix-socket|--data-urlencode) shift ;;
    http*) url="$1" ;;
  esac
  shift
done
now=$(busybox date +%s)
case "$url" in
  */lease)
    mode=$(cat "$dir/mode")
    case "$mode" in
      ok) echo '{"host":"h1","ttlMs":3000}' > "$out"; echo "ok $now" >> "$dir/log"; printf 200 ;;
      refuse) echo '{"error":{}}' > "$out"; echo "refused $now" >> "$dir/log"; printf 409 ;;
      *) echo "silent $now" >> "$dir/log"; printf 000; exit 7 ;;
    esac ;;
  */containers/json*) echo '[{"Id":"aaa111","Names":["/shop.web-1"]},{"Id":"bbb222","Names":["/shop.web-2"]}]' ;;
  */stop*) id=\${url#*/containers/}; echo "stop \${id%%/*} $now" >> "$dir/log" ;;
esac
`;

describe('the warden\'s loop', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    // Each loop and its children (the stand-in curl, sleep) ended before its folder goes: one still writing the log while the folder is removed fails the removal (ENOTEMPTY).
    await Promise.all(
      children.map(async (c) => {
        const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((resolve) => c.once('exit', resolve));
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          // the group has ended
        }
        await exited;
      }),
    );
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function start(mode: string): { dir: string; setMode(m: string): void; log(): string[][] } {
    const dir = mkdtempSync(join(tmpdir(), 'berth-warden-loop-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'curl'), STUB);
    chmodSync(join(dir, 'curl'), 0o755);
    writeFileSync(join(dir, 'warden.sh'), WARDEN_SCRIPT);
    writeFileSync(join(dir, 'token'), 'berth_secret');
    writeFileSync(join(dir, 'mode'), mode);
    writeFileSync(join(dir, 'log'), '');
    const child = spawn('busybox', ['sh', join(dir, 'warden.sh')], {
      env: { PATH: `${dir}:${process.env.PATH}`, STUB_DIR: dir, BERTH_WARDEN_DIR: dir, BERTH_HOST: 'h1', BERTH_SERVER: 'https://127.0.0.1:1', BERTH_RENEW_SECONDS: '1', BERTH_STOP_GRACE_SECONDS: '1' },
      stdio: 'ignore',
      detached: true, // a process group of its own: the loop and its children are killed together
    });
    children.push(child);
    return {
      dir,
      setMode: (m) => writeFileSync(join(dir, 'mode'), m),
      log: () => readFileSync(join(dir, 'log'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')),
    };
  }

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`never: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('renews while the server answers; once it cannot, stops every instance only after the lease it held ended', async () => {
    const w = start('ok');
    await until(() => w.log().filter((l) => l[0] === 'ok').length >= 2, 'two renewals');
    w.setMode('silent');
    await until(() => w.log().filter((l) => l[0] === 'stop').length >= 2, 'both instances stopped');
    const log = w.log();
    const lastOk = Math.max(...log.filter((l) => l[0] === 'ok').map((l) => Number(l[1])));
    const stops = log.filter((l) => l[0] === 'stop');
    assert.deepEqual(stops.slice(0, 2).map((l) => l[1]), ['aaa111', 'bbb222']);
    // Whole seconds: the warden counts its lease from just before it asked, which may be the second before the answer was logged.
    assert.ok(Number(stops[0]![2]) >= lastOk + 3 - 1, `stopped at ${stops[0]![2]}, the lease answered at ${lastOk} ran 3 s`);
    assert.ok(log.findIndex((l) => l[0] === 'stop') > log.findIndex((l) => l[0] === 'silent'), 'nothing stopped while the server answered');
  });

  it('stops every instance at once when the server holds its host down (409)', async () => {
    const w = start('ok');
    await until(() => w.log().some((l) => l[0] === 'ok'), 'a renewal');
    w.setMode('refuse');
    await until(() => w.log().filter((l) => l[0] === 'stop').length >= 2, 'both instances stopped');
    const log = w.log();
    const refused = log.findIndex((l) => l[0] === 'refused');
    assert.deepEqual(log.slice(refused + 1, refused + 3).map((l) => l.slice(0, 2)), [['stop', 'aaa111'], ['stop', 'bbb222']], 'right after the refusal, with the lease still running');
  });

  it('a warden that starts without reaching the server holds no lease: it stops every instance at once', async () => {
    const w = start('silent');
    await until(() => w.log().filter((l) => l[0] === 'stop').length >= 2, 'both instances stopped');
    assert.deepEqual(w.log().slice(0, 3).map((l) => l[0]), ['silent', 'stop', 'stop']);
    assert.equal(existsSync(join(w.dir, 'answer')), false);
  });
});

describe('the warden\'s container and image', () => {
  it('runs on the host\'s network and pids, restart always, with only the capabilities of its address work and the engine\'s socket; the token is not in it', () => {
    const body = wardenBody({ host: 'h1', image: 'sha256:abc', server: 'https://10.0.0.1:7878', project: 'shop', renewSeconds: 2, stopGraceSeconds: 5, socket: '/var/run/docker.sock' });
    assert.deepEqual(body, {
      name: 'berth-warden',
      Image: 'sha256:abc',
      Env: ['BERTH_SERVER=https://10.0.0.1:7878', 'BERTH_HOST=h1', 'BERTH_RENEW_SECONDS=2', 'BERTH_STOP_GRACE_SECONDS=5'],
      Labels: { 'berth.warden': 'h1', 'berth.project': 'shop' },
      HostConfig: { NetworkMode: 'host', PidMode: 'host', RestartPolicy: { Name: 'always' }, CapDrop: ['ALL'], CapAdd: ['NET_RAW', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE'], Binds: ['/var/run/docker.sock:/var/run/docker.sock'] },
    });
  });

  it("mounts the host's own engine socket (hosts[].socket) where its loop looks for it", () => {
    const body = wardenBody({ host: 'h2', image: 'sha256:abc', server: 'https://10.0.0.1:7878', project: 'shop', renewSeconds: 2, stopGraceSeconds: 5, socket: '/run/berth-lab-x/h2.sock' });
    assert.deepEqual(body.HostConfig?.Binds, ['/run/berth-lab-x/h2.sock:/var/run/docker.sock']);
    assert.match(WARDEN_SCRIPT, /^engine=\/var\/run\/docker\.sock$/m);
  });

  it('is built from Debian\'s busybox-static, curl and ca-certificates', () => {
    assert.deepEqual(WARDEN_IMAGE.packages, ['busybox-static', 'curl', 'ca-certificates']);
    assert.deepEqual(WARDEN_IMAGE.command, ['/bin/busybox', 'sh', '/run/berth-warden/warden.sh']);
  });
});
