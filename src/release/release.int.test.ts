/**
 * Integration: Release on the real engine, through a real HAProxy front door
 * per service and environment. One service (busybox httpd answering "hello
 * <version>") in the default pipeline dev → test → staging → canary →
 * production, production with 4 instances. dev and production, whose
 * instances are replaced again and again, are on a flat network (the front
 * door reaches each instance at its own IP); test, staging and canary on nat
 * (the front door reaches an instance at 127.0.0.1:<published port>). Not nat
 * everywhere: a nat slot asks for its port again on IPv4 and IPv6 when it is
 * replaced, and Docker 20.10 picks the IPv6 port apart from the IPv4 one, so a
 * replacement fails now and then (reported). Several builds are made up front
 * and releases name them by image ID.
 *
 * - promotion follows the pipeline (a skipped stage is refused, --force records it);
 * - a rolling update of 4 instances under load loses no request;
 * - canaries: the traffic share from the weights, promote, abort by hand;
 *   an automatic canary whose instances answer 5xx to a fifth of the requests
 *   is aborted by its gates reading the real front door's counters, exits 8
 *   and names the error rates of canary and baseline; `berth history` shows
 *   the evidence. (An automatic canary that its gates promote is the same
 *   gate deciding the other way: release/operations-on-fake.test.ts.)
 * - the health gate admits an instance only after healthy_after passes;
 * - a release that fails its health check in production rolls back by
 *   itself, and the old release serves throughout;
 * - bad input is refused with a clear error and changes nothing;
 * - rollback to the previous release.
 *
 * The tests build on each other's state (what production runs); one whose
 * earlier step failed says which instead of failing somewhere confusing.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildProject } from '../imaging/builder.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { listInstances, type InstanceStatus } from '../runtime/instances.js';
import { removeInstances } from './operate.js';
import { exitCodes, isBerthError, rolloutExitCodes, type BerthError, type ErrorKind } from '../errors.js';
import { recordedDoorStatus } from '../rollout/front-door.js';
import type { FrontDoorStatus } from '../lb/model.js';
import { removeNetwork } from '../network/docker-network.js';
import { openStore, type Store, closeStore, sqliteOf } from '../store/db.js';
import { currentRelease, releaseOf, releasesOf, rolloutById, rolloutsOf } from '../store/releases.js';
import { tryLease } from '../store/leases.js';
import { runBerth, type CliOutcome } from '../testing/cli.js';
import { makeFixture, tinyRootTarball, type Fixture } from '../testing/fixture.js';
import { sendRequests, startLoad, type LoadResult } from '../testing/load.js';
import { NORMAL_WEIGHT } from '../rollout/door.js';
import { canaryAbort, canaryPromote, history, promoteService, releaseService, rollbackService } from './operations.js';
import { parseShare } from './pipeline.js';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import type { CanaryEvidence } from './canary-gate.js';
import { canaryWeights } from '../rollout/rollout-plan.js';
import { stepsWithNeeds } from '../testing/steps.js';
import { randomTestPrefix } from '../testing/test-subnet.js';

/** The service: slots (container names) are <service>-<env>-<n> on the whole engine, so the name is unique to this run. */
const SVC = `rel${randomBytes(3).toString('hex')}`;
/** A second service, in dev only, whose health endpoint passes only from its third probe on. */
const LATE = `${SVC}late`;
const run = promisify(execFile);
const ENVIRONMENTS = ['dev', 'test', 'staging', 'canary', 'production'] as const;
const PRODUCTION = Array.from({ length: 4 }, (_, i) => `${SVC}-production-${i + 1}`);
/** The slots above production's: its canaries'. */
const CANARY = [`${SVC}-production-5`, `${SVC}-production-6`] as const;
/** Per instance, until healthy: generous for the good builds (they are healthy in well under a second). */
const TIMEOUT_MS = 30_000;
/**
 * What a user would configure: probe every 2 s, 1 s to answer, unhealthy after 3 failures in a row, and
 * 20 s for the server to start listening (at load 60 a fresh-clone run saw busybox httpd still refusing
 * connections after three probes, 6 s).
 */
const HEALTH = { http: '/health.html', interval: '2s', timeout: '1s', unhealthy_after: 3, start_period: '20s' };
type Version = 'A' | 'B' | 'C' | 'BAD' | 'FLAKY';

const { step, needs } = stepsWithNeeds();
const PIPELINE = 'promotion follows the pipeline: skipping a stage is refused naming it; --force passes and is recorded';
const ROLLING = 'a rolling update of 4 instances in production under load: no failed request, then every answer is the new release';
const MANUAL = 'canary by hand: its share of the traffic follows the weights; canary promote, canary abort';
const FLAKY = 'an automatic canary whose instances answer 5xx to a fifth of the requests is aborted, exits 8 and names both error rates';
const BAD = 'a release that fails its health check in production rolls back by itself (exit code 7); the old release serves throughout';

describe('release, promote, canary and rollback through the front door, on the real engine', () => {
  let fixture: Fixture;
  let db: Store;
  /** A port this test listens on, configured as the front door port of the service in `test`. */
  let held: Server;
  let heldPort: number;
  const images = {} as Record<Version, string>;
  /** Release numbers as the tests create them. */
  const releases = {} as Record<Version, number>;
  let url: string;
  let prefix: string;
  let bridge: string;

  const page = (v: string) => `#!/bin/sh\nmkdir -p /www\necho "hello ${v}" > /www/index.html\necho ok > /www/health.html\n`;
  /** GET / is a CGI answering 500 to every fifth request (busybox httpd runs /cgi-bin/index.cgi without an index.html); the health page passes. */
  const flakyPage = [
    '#!/bin/sh',
    'mkdir -p /www/cgi-bin && echo ok > /www/health.html',
    "cat > /www/cgi-bin/index.cgi <<'EOF'",
    '#!/bin/sh',
    'n=$(cat /tmp/requests 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /tmp/requests',
    "if [ $((n % 5)) -eq 0 ]; then printf 'HTTP/1.1 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nfailing\\n'; else printf 'Content-Type: text/plain\\r\\n\\r\\nhello FLAKY\\n'; fi",
    'EOF',
    'chmod +x /www/cgi-bin/index.cgi',
    '',
  ].join('\n');
  /** Its health CGI logs each probe from outside the container (Berth's) and answers 503 to the first two, 200 after. */
  const latePage = [
    '#!/bin/sh',
    'mkdir -p /www/cgi-bin && echo "hello LATE" > /www/index.html',
    "cat > /www/cgi-bin/health <<'EOF'",
    '#!/bin/sh',
    "case \"$REMOTE_ADDR\" in *127.0.0.1) printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'; exit 0 ;; esac",
    'n=$(cat /tmp/probes 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /tmp/probes',
    "if [ $n -le 2 ]; then echo 503 >> /tmp/probes.log; printf 'HTTP/1.1 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot yet\\n'; else echo 200 >> /tmp/probes.log; printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'; fi",
    'EOF',
    'chmod +x /www/cgi-bin/health',
    '',
  ].join('\n');
  const runtime = '#!/bin/sh\necho "web: $BERTH_INSTANCE in $BERTH_ENV serves $(cat /www/index.html)"\n';
  /** Healthy in every environment but production, where it deletes its page (GET / answers 404). */
  const badRuntime = '#!/bin/sh\nif [ "$BERTH_ENV" = production ]; then rm -f /www/index.html /www/health.html; fi\necho "web: $BERTH_INSTANCE in $BERTH_ENV"\n';

  const context = (): RunContext => {
    const project = loadProject(fixture.dir, fixture.env);
    return { project, db, hosts: new Hosts(project, fixture.engine), env: fixture.env };
  };
  const stateDir = () => context().project.stateDir;
  const instances = (environment: string): Promise<InstanceStatus[]> => listInstances(context(), { environment, service: SVC });
  const door = async (environment: string): Promise<FrontDoorStatus> => {
    const status = await recordedDoorStatus(context(), SVC, environment);
    assert.ok(status, `no front door port recorded for ${environment}`);
    return status;
  };
  const versionOf = (digest: string) => (Object.entries(images) as [Version, string][]).find(([, id]) => id === digest)?.[0] ?? digest;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const show = (r: LoadResult) => `${r.ok} ok, ${r.failed} failed in ${r.ms} ms; answers ${JSON.stringify([...r.answers])}; failures ${JSON.stringify(r.failures)}`;

  /** Every rollout's events, printed with BERTH_TEST_TRACE=1. */
  const trace = (e: RolloutEvent) => {
    if (process.env.BERTH_TEST_TRACE) console.log(`# ${new Date().toISOString()} ${JSON.stringify(e)}`);
  };
  const opts = { timeoutMs: TIMEOUT_MS, emit: trace };
  /** A Berth error's lines (the instance's reason, its last log lines) in the message of a test that fails with it. */
  const must = <T>(promise: Promise<T>): Promise<T> =>
    promise.catch((error: unknown) => {
      if (isBerthError(error) && error.lines.length > 0) error.message += `\n${error.lines.join('\n')}`;
      throw error;
    });

  /** The promise rejects with a Berth error of this kind whose message (or lines) match. */
  async function rejectsWith(promise: Promise<unknown>, kind: ErrorKind, pattern: RegExp): Promise<BerthError> {
    let caught: unknown;
    await assert.rejects(promise, (error: unknown) => ((caught = error), true));
    assert.ok(isBerthError(caught), `not a Berth error: ${String(caught)}`);
    const text = [caught.message, ...caught.lines].join('\n');
    assert.equal(caught.kind, kind, `${caught.kind} instead of ${kind}: ${text}`);
    assert.match(text, pattern);
    return caught;
  }

  /** Production runs exactly the 6 slots, all running `version`; the front door holds exactly them (at their own IPs), ready, at normal weight; every answer is that version. */
  async function assertProduction(version: Version): Promise<InstanceStatus[]> {
    const running = await instances('production');
    assert.deepEqual(
      running.map((i) => [i.slot, i.state, versionOf(i.digest)]),
      PRODUCTION.map((slot) => [slot, 'running', version]),
    );
    const status = await door('production');
    assert.ok(status.running, 'the production front door does not run');
    assert.equal(status.problem, undefined);
    assert.deepEqual(
      status.servers.map((s) => [s.name, s.address, s.state, s.weight]).sort(),
      running.map((i) => [i.slot, `${i.ip}:8080`, 'ready', NORMAL_WEIGHT]).sort(),
    );
    const answers = await sendRequests(url, 24);
    assert.equal(answers.failed, 0, show(answers));
    assert.deepEqual([...answers.answers], [[`hello ${version}`, 24]]);
    return running;
  }

  /** Runs `action` while the load loop runs (from 300 ms before), and stops the loop whatever happens. */
  async function underLoad<T>(action: () => Promise<T>): Promise<{ value: T; load: LoadResult; ms: number }> {
    // The load lasts as long as the action: on a busy machine a rollout through the door (each change an exec) takes minutes.
    const load = startLoad(url, { concurrency: 4, maxMs: 30 * 60_000 });
    try {
      await sleep(300);
      const started = Date.now();
      const value = await must(action());
      const ms = Date.now() - started;
      return { value, load: await load.stop(), ms };
    } finally {
      await load.stop();
    }
  }

  before(async () => {
    held = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => held.listen({ host: '127.0.0.1', port: 0 }, resolve));
    heldPort = (held.address() as AddressInfo).port;
    const nat = { network: 'nat', lb_address: '127.0.0.1' };
    const lan = { network: 'lan', lb_address: '127.0.0.1' };
    // A /24 of 10.210-239.x that no Docker network or route of this machine uses, on a bridge of this test's own.
    prefix = randomTestPrefix();
    bridge = `br${randomBytes(3).toString('hex')}`;
    fixture = await makeFixture(
      {
        base: { settings: { root: { tarball: await tinyRootTarball() } } },
        web: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: page('A'), runtime },
        late: { settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] }, static: latePage },
      },
      {
        networks: {
          lan: { mode: 'flat', bridge, subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, range: `${prefix}.10-${prefix}.60`, create_bridge: true, quarantine: '0s' },
        },
        services: {
          [SVC]: {
            image: 'web',
            ports: [8080],
            health: HEALTH,
            stop_grace: '2s',
            rollout: { batch_size: 1, max_unavailable: 1, drain: '2s' },
            canary: { min_requests: 10 },
          },
          [LATE]: {
            image: 'late',
            ports: [8080],
            health: { http: '/cgi-bin/health', interval: '2s', timeout: '1s', healthy_after: 2, unhealthy_after: 3, start_period: '10s' },
            stop_grace: '2s',
          },
        },
        environments: {
          dev: lan,
          test: { ...nat, services: { [SVC]: { lb_port: heldPort } } },
          staging: nat,
          canary: nat,
          production: { ...lan, services: { [SVC]: { replicas: 4 } } },
        },
      },
    );
    db = await openStore(stateDir());
    // Every build up front: releases name them by image ID and nothing is built later.
    const builds: [Version, string, string][] = [
      ['A', page('A'), runtime],
      ['B', page('B'), runtime],
      ['C', page('C'), runtime],
      ['BAD', page('BAD'), badRuntime],
      ['FLAKY', flakyPage, runtime],
    ];
    for (const [version, staticScript, runtimeScript] of builds) {
      fixture.write('images/web/static.sh', staticScript, 0o755);
      fixture.write('images/web/runtime.sh', runtimeScript, 0o755);
      const summary = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['web'] });
      assert.deepEqual(summary.failed, []);
      images[version] = [...summary.built, ...summary.upToDate].find((b) => b.name === 'web')!.imageId;
    }
    assert.equal(new Set(Object.values(images)).size, builds.length);
    const late = await buildProject(context().project, fixture.engine, db, { env: fixture.env, only: ['late'] });
    assert.deepEqual(late.failed, []);
  });

  after(async () => {
    if (!fixture) return;
    held?.close();
    for (const environment of ENVIRONMENTS) {
      const left = await listInstances(context(), { environment }).catch(() => []);
      if (left.length > 0) await removeInstances(context(), left, environment).catch(() => {});
    }
    for (const network of ['lan', 'nat']) await removeNetwork(fixture.engine, `berth-${fixture.name}-${network}`).catch(() => {});
    await run('ip', ['link', 'delete', bridge]).catch(() => {});
    await (db && await closeStore(db));
    await fixture.cleanup();
  });

  step(PIPELINE, async () => {
    const dev = await must(releaseService(context(), SVC, 'dev', { image: images.A, ...opts }));
    releases.A = dev.created.number;
    assert.equal(dev.status, 'succeeded');
    const answer = await sendRequests(`http://${dev.frontDoor.address}:${dev.frontDoor.port}/`, 4);
    assert.deepEqual([...answer.answers], [['hello A', 4]], show(answer));

    const rollouts = (await rolloutsOf(db, SVC)).length;
    await rejectsWith(promoteService(context(), SVC, 'staging', { ...opts }), 'conflict', /has not run in test,/);
    assert.equal((await rolloutsOf(db, SVC)).length, rollouts, 'a refused promotion recorded a rollout');
    assert.deepEqual(await instances('staging'), []);

    const staged = await must(promoteService(context(), SVC, 'staging', { force: true, ...opts }));
    assert.deepEqual([staged.status, staged.release], ['succeeded', releases.A]);
    // staging is on nat: its front door reaches the instance at 127.0.0.1:<published port>.
    const [onNat] = await instances('staging');
    assert.deepEqual([onNat!.slot, versionOf(onNat!.digest)], [`${SVC}-staging-1`, 'A']);
    assert.deepEqual((await door('staging')).servers.map((s) => [s.name, s.address, s.state]), [[onNat!.slot, `127.0.0.1:${onNat!.ports['8080/tcp']}`, 'ready']]);
    const viaNat = await sendRequests(`http://${staged.frontDoor.address}:${staged.frontDoor.port}/`, 4);
    assert.deepEqual([...viaNat.answers], [['hello A', 4]], show(viaNat));
    const entries = (await history(context(), SVC)).rollouts;
    assert.deepEqual(
      entries.map((e) => [e.environment, e.kind, e.forced, e.status, e.release]),
      [
        ['staging', 'promote', true, 'succeeded', releases.A],
        ['dev', 'release', false, 'succeeded', releases.A],
      ],
    );
  });

  step(ROLLING, async () => {
    needs(PIPELINE);
    const first = await must(promoteService(context(), SVC, 'production', { force: true, ...opts }));
    assert.deepEqual([first.status, first.release], ['succeeded', releases.A]);
    url = `http://${first.frontDoor.address}:${first.frontDoor.port}/`;
    await assertProduction('A');

    releases.B = (await must(releaseService(context(), SVC, 'dev', { image: images.B, ...opts }))).created.number;
    const { value: promoted, load: result, ms: took } = await underLoad(() => promoteService(context(), SVC, 'production', { from: 'dev', force: true, ...opts }));
    assert.deepEqual([promoted.status, promoted.release], ['succeeded', releases.B]);
    assert.equal(result.failed, 0, show(result));
    assert.ok((result.answers.get('hello A') ?? 0) > 0 && (result.answers.get('hello B') ?? 0) > 0, show(result));
    assert.deepEqual([...result.answers.keys()].sort(), ['hello A', 'hello B'], show(result));
    await assertProduction('B');
    const status = await door('production');
    assert.equal(status.frontend.responses['5xx'], 0);
    // Every step of the update: front door, drain/replace per instance, converge.
    const plan = JSON.parse((await rolloutById(db, promoted.rollout))!.plan) as { steps: { op: string; slots?: string[] }[] };
    assert.deepEqual(
      plan.steps.map((s) => [s.op, ...(s.slots ?? [])].join(' ')),
      ['front-door', ...PRODUCTION.flatMap((slot) => [`drain ${slot}`, `replace ${slot}`]), 'converge'],
    );
    console.log(`# rolling update of 4: ${took} ms; load ${show(result)}`);
  });

  step(MANUAL, async () => {
    needs(ROLLING);
    // A manual canary of C at 10%.
    releases.C = (await must(releaseService(context(), SVC, 'dev', { image: images.C, ...opts }))).created.number;
    const onB = await instances('production');
    const opened = await must(promoteService(context(), SVC, 'production', { from: 'dev', canary: 0.1, manual: true, force: true, ...opts }));
    assert.deepEqual([opened.status, opened.release], ['canary', releases.C]);
    const withCanary = await instances('production');
    assert.deepEqual(
      withCanary.map((i) => [i.slot, versionOf(i.digest)]),
      [...PRODUCTION.map((slot) => [slot, 'B']), [CANARY[0], 'C']],
    );
    assert.deepEqual(withCanary.slice(0, PRODUCTION.length).map((i) => i.id), onB.map((i) => i.id), 'the canary replaced running instances');
    const weights = canaryWeights(4, 1, 0.1);
    const before = await door('production');
    assert.deepEqual(
      before.servers.map((s) => [s.name, s.state, s.weight]).sort(),
      [...PRODUCTION.map((slot) => [slot, 'ready', weights.main]), [CANARY[0], 'ready', weights.canary]].sort(),
    );
    const canaryBefore = before.servers.find((s) => s.name === CANARY[0])!.requests;
    const sample = await sendRequests(url, 400);
    assert.equal(sample.failed, 0, show(sample));
    const toCanary = sample.answers.get('hello C') ?? 0;
    assert.equal(toCanary + (sample.answers.get('hello B') ?? 0), 400, show(sample));
    const share = toCanary / 400;
    assert.ok(Math.abs(share - 0.1) <= 0.05, `the canary answered ${(share * 100).toFixed(1)}% of the requests: ${show(sample)}`);
    const counted = (await door('production')).servers.find((s) => s.name === CANARY[0])!;
    assert.equal(counted.requests - canaryBefore, toCanary, "the front door's counter of the canary");
    assert.equal(counted.responses['2xx'], counted.requests);
    console.log(`# canary 10%: ${toCanary}/400 requests; weights ${JSON.stringify(weights)}`);

    // While it is open, another rollout of the service in production is refused.
    const rollouts = (await rolloutsOf(db, SVC)).length;
    await rejectsWith(rollbackService(context(), SVC, 'production', { ...opts }), 'conflict', new RegExp(`a canary of ${SVC} \\(release \\d+\\) is open in production`));
    assert.equal((await rolloutsOf(db, SVC)).length, rollouts);

    // Canary promote, under load.
    const { value: done, load: promoteLoad } = await underLoad(() => canaryPromote(context(), SVC, 'production', { ...opts }));
    assert.deepEqual([done.status, done.release, done.rollout], ['succeeded', releases.C, opened.rollout]);
    assert.equal(promoteLoad.failed, 0, show(promoteLoad));
    await assertProduction('C');
    assert.deepEqual(
      (await history(context(), SVC, 'production')).rollouts.slice(0, 1).map((e) => [e.kind, e.status, e.release]),
      [['canary', 'succeeded', releases.C]],
    );

    // A canary of A (what staging runs), aborted by hand, under load.
    const onC = await instances('production');
    const second = await must(promoteService(context(), SVC, 'production', { from: 'staging', canary: 0.1, manual: true, force: true, ...opts }));
    assert.deepEqual([second.status, second.release], ['canary', releases.A]);
    assert.deepEqual((await instances('production')).map((i) => [i.slot, versionOf(i.digest)]), [...PRODUCTION.map((slot) => [slot, 'C']), [CANARY[0], 'A']]);
    const { value: aborted, load: abortLoad } = await underLoad(() => canaryAbort(context(), SVC, 'production', { ...opts }));
    assert.equal(aborted.status, 'aborted');
    assert.equal(abortLoad.failed, 0, show(abortLoad));
    assert.ok((abortLoad.answers.get('hello A') ?? 0) > 0, `the canary never answered before the abort: ${show(abortLoad)}`);
    const afterAbort = await assertProduction('C');
    assert.deepEqual(afterAbort.map((i) => i.id), onC.map((i) => i.id), 'the abort replaced running instances');
    assert.equal(await currentRelease(db, SVC, 'production'), releases.C);
    const abortedEntry = (await history(context(), SVC, 'production')).rollouts[0]!;
    assert.deepEqual([abortedEntry.rollout, abortedEntry.kind, abortedEntry.status, abortedEntry.release], [second.rollout, 'canary', 'aborted', releases.A]);
    assert.match(abortedEntry.message, /canary aborted: aborted by hand/);
    assert.deepEqual((await history(context(), SVC, 'production')).rollouts[0]!.evidence, { gate: 'manual', decision: 'abort', reason: 'aborted by hand', by: abortedEntry.by });
  });

  step(FLAKY, async () => {
    needs(MANUAL);
    releases.FLAKY = (await must(releaseService(context(), SVC, 'dev', { image: images.FLAKY, ...opts }))).created.number;
    const onC = await instances('production');
    // Through the CLI, for its exit code.
    const promote = ['promote', SVC, '--to', 'production', '--from', 'dev', '--canary', '40%', '--watch', '20s', '--force', '-p', fixture.dir];
    const load = startLoad(url, { concurrency: 4 });
    let cli: CliOutcome;
    try {
      cli = await runBerth(promote, { env: fixture.env, timeoutMs: 180_000 });
    } finally {
      await load.stop();
    }
    const output = `exit ${cli.code ?? cli.signal}\n--- stdout\n${cli.stdout}--- stderr\n${cli.stderr}`;
    assert.equal(cli.code, rolloutExitCodes.aborted, output);
    assert.equal(rolloutExitCodes.aborted, 8);
    assert.match(cli.stdout, /canary abort: error rate: canary (\d+\.\d)% errors \(\d+ of \d+ requests\) vs baseline (\d+\.\d)% errors \(\d+ of \d+ requests\)/, output);
    assert.match(cli.stdout, new RegExp(`${SVC} release ${releases.FLAKY} in production: aborted \\(canary aborted: error rate: `), output);
    const entry = (await history(context(), SVC, 'production')).rollouts[0]!;
    assert.deepEqual([entry.kind, entry.status, entry.release], ['canary', 'aborted', releases.FLAKY]);
    const evidence = entry.evidence as unknown as CanaryEvidence;
    assert.equal(evidence.decision, 'abort');
    assert.ok(evidence.canary.rate > 0.1 && evidence.canary.rate < 0.3, `a fifth of the canary's requests should fail: ${JSON.stringify(evidence.canary)}`);
    assert.ok(evidence.canary.rate > evidence.baseline.rate + evidence.settings.tolerance, JSON.stringify(evidence));
    assert.deepEqual(evidence.instances.map((i) => i.verdict), ['healthy', 'healthy'], 'the health page kept passing: the error rate decided');
    assert.deepEqual(evidence.canary.servers, [...CANARY]);
    assert.deepEqual(evidence.baseline.servers, [...PRODUCTION].sort());
    // The same instances serve C again; the canary ones are gone.
    const after = await assertProduction('C');
    assert.deepEqual(after.map((i) => i.id), onC.map((i) => i.id));
    // berth history shows the gate's evidence in a line or two.
    const shown = await runBerth(['history', SVC, '--env', 'production', '-p', fixture.dir], { env: fixture.env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`#${entry.rollout} canary aborted by its gates: error rate: canary \\d+\\.\\d% errors`));
    assert.match(shown.stdout, new RegExp(`probes: ${CANARY[0]} \\d+ passed, \\d+ failed; ${CANARY[1]} \\d+ passed, \\d+ failed`));
    const json = JSON.parse((await runBerth(['history', SVC, '--env', 'production', '--json', '-p', fixture.dir], { env: fixture.env })).stdout) as { rollouts: { rollout: number; evidence: CanaryEvidence }[] };
    assert.deepEqual(json.rollouts.find((r) => r.rollout === entry.rollout)!.evidence, evidence);
    console.log(`# flaky canary aborted: ${evidence.reason}`);
  });

  step(BAD, async () => {
    needs(FLAKY);
    // Healthy in dev: it deletes its page only in production.
    const bad = await must(releaseService(context(), SVC, 'dev', { image: images.BAD, ...opts }));
    releases.BAD = bad.created.number;
    const dev = await sendRequests(`http://${bad.frontDoor.address}:${bad.frontDoor.port}/`, 4);
    assert.deepEqual([...dev.answers], [['hello BAD', 4]], show(dev));

    const onC = await instances('production');
    const { value: error, load: result, ms: took } = await underLoad(() =>
      rejectsWith(
        promoteService(context(), SVC, 'production', { from: 'dev', force: true, ...opts }),
        'rolled-back',
        new RegExp(`promote of ${SVC} release ${releases.BAD} to production failed and was rolled back to release ${releases.C}`),
      ),
    );
    assert.match(error.message, /rolled back to release/);
    assert.match(error.lines.join('\n'), new RegExp(`${SVC}-production-1`));
    assert.match(error.lines.join('\n'), /unhealthy after 3 consecutive failed probes \(unhealthy_after 3\): GET .*\/health\.html answered 404/);
    assert.equal(exitCodes[error.kind], 7);
    assert.equal(result.failed, 0, show(result));
    assert.deepEqual([...result.answers.keys()], ['hello C'], show(result));
    const running = await assertProduction('C');
    // Only the first slot was tried: the others kept their containers; slot 1 got its old one back.
    assert.deepEqual(running.map((i) => i.id), onC.map((i) => i.id));
    assert.equal(await currentRelease(db, SVC, 'production'), releases.C);
    const entry = (await history(context(), SVC, 'production')).rollouts[0]!;
    assert.deepEqual([entry.kind, entry.release, entry.status], ['promote', releases.BAD, 'rolled-back']);
    assert.match(entry.message, new RegExp(`rolled back to release ${releases.C}: instance ${SVC}-production-1: .*404`));
    assert.deepEqual(sqliteOf(db).prepare('SELECT * FROM leases').all(), []);
    console.log(`# failed promotion and rollback: ${took} ms; load ${show(result)}`);
  });

  /** What a refused command must leave as it was: releases, rollouts, instances. */
  const snapshot = async () => ({
    releases: (await releasesOf(db, SVC)).map((r) => r.number),
    rollouts: (await rolloutsOf(db, SVC)).map((r) => [r.id, r.status]),
    instances: (await listInstances(context(), { service: SVC })).map((i) => [i.slot, i.id, i.state]),
  });
  type Snapshot = Awaited<ReturnType<typeof snapshot>>;
  const unchanged = async (label: string, before: Snapshot) => assert.deepEqual(await snapshot(), before, label);

  it('the health gate admits an instance only after healthy_after consecutive passes', async () => {
    // Its health CGI answers 503 to Berth's first two probes and 200 after; healthy_after is 2.
    const late = await must(releaseService(context(), LATE, 'dev', { ...opts }));
    assert.equal(late.status, 'succeeded');
    const [instance, ...others] = await listInstances(context(), { environment: 'dev', service: LATE });
    assert.deepEqual([instance?.state, others], ['running', []]);
    const log = await fixture.engine.exec(instance!.id, ['cat', '/tmp/probes.log']);
    // Admitted after its second pass in a row, not at its first. (A probe the CGI answered in time for itself can still
    // time out for Berth on a busy machine and start the count again, so more than two 200s may come before admission.)
    // Two probes that overlap (one timed out for Berth, the next already sent) can both read the CGI's count before
    // either writes it, so three 503s may come first: what is asserted is 503s, then only 200s, at least two of them.
    const probes = log.output.trim().split('\n');
    const firstPass = probes.indexOf('200');
    assert.ok(firstPass >= 2 && probes.slice(0, firstPass).every((p) => p === '503'), `Berth's probes as the instance answered them: ${probes.join(' ')}`);
    assert.ok(probes.length - firstPass >= 2 && probes.slice(firstPass).every((p) => p === '200'), `Berth's probes as the instance answered them: ${probes.join(' ')}`);
    const answer = await sendRequests(`http://${late.frontDoor.address}:${late.frontDoor.port}/`, 4);
    assert.deepEqual([...answer.answers], [['hello LATE', 4]], show(answer));
  });

  it('bad input: each is a clear error and changes nothing', async () => {
    needs(PIPELINE);
    const before = await snapshot();

    for (const text of ['0%', '150%', '100', 'ten', '-5%']) {
      assert.throws(() => parseShare(text), (error: unknown) => isBerthError(error) && error.kind === 'invalid' && /between 0 and 100/.test(error.message), text);
    }
    assert.equal(parseShare('10%'), 0.1);

    await rejectsWith(rollbackService(context(), SVC, 'staging', { ...opts }), 'not-found', new RegExp(`staging has run no release of ${SVC} before release \\d+: nothing to roll back to`));
    await unchanged('rollback with nothing to roll back to', before);

    await rejectsWith(promoteService(context(), SVC, 'production', { from: 'canary', force: true, ...opts }), 'not-found', new RegExp(`no release of ${SVC} runs in canary`));
    await unchanged('promote from an environment without a release', before);

    await rejectsWith(rollbackService(context(), SVC, 'production', { to: 999, ...opts }), 'not-found', new RegExp(`release 999 of ${SVC} does not exist`));
    await unchanged('rollback to a release that does not exist', before);

    // A rollout in progress: the lock of the service in staging held by a live process of this machine.
    const sleeper: ChildProcess = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      assert.ok(sleeper.pid);
      const stagingRollout = (await rolloutsOf(db, SVC, 'staging'))[0]!;
      const claim = { service: SVC, environment: 'staging', rollout: stagingRollout.id, holder: `${hostname()}:${sleeper.pid}:test`, pid: sleeper.pid, hostname: hostname() };
      assert.ok('taken' in await tryLease(db, claim, 60_000));
      await rejectsWith(
        releaseService(context(), SVC, 'staging', { image: images.B, force: true, ...opts }),
        'conflict',
        new RegExp(`a rollout of ${SVC} in staging is in progress: rollout #${stagingRollout.id} \\(promote of release ${releases.A}, .*\\), berth process ${sleeper.pid} on ${hostname()}`),
      );
      await rejectsWith(rollbackService(context(), SVC, 'staging', { to: releases.B, force: true, ...opts }), 'conflict', /is in progress/);
      await unchanged('a rollout in progress', before);
    } finally {
      sleeper.kill('SIGKILL');
      sqliteOf(db).prepare('DELETE FROM leases WHERE service = ? AND environment = ?').run(SVC, 'staging');
    }
    assert.deepEqual(sqliteOf(db).prepare('SELECT * FROM leases').all(), []);
  });

  it('a front door port held by another process: a conflict naming the port; the rollout is journaled and ends failed at its front-door step, no release recorded', async () => {
    const before = await snapshot();
    // The front door port of the service in test (lb_port) is the one this test listens on.
    await rejectsWith(releaseService(context(), SVC, 'test', { image: images.A, force: true, ...opts }), 'conflict', new RegExp(`port ${heldPort} on 127\\.0\\.0\\.1 is taken by another process`));
    const left = (await rolloutsOf(db, SVC)).filter((r) => !before.rollouts.some(([id]) => id === r.id));
    // The plan is journaled before the front door is started: the attempt is in the history, failed where it stopped, before any instance changed.
    assert.deepEqual(left.map((r) => [r.kind, r.environment, r.status]), [['release', 'test', 'failed']]);
    const [attempt] = left;
    assert.match(attempt!.message, new RegExp(`^failed before changing any instance: .*port ${heldPort} on 127\\.0\\.0\\.1 is taken by another process`));
    const steps = (JSON.parse(attempt!.plan) as { steps: { op: string }[] }).steps;
    assert.equal(steps[attempt!.done]?.op, 'front-door', `it failed at step ${attempt!.done + 1} of ${steps.map((s) => s.op).join(', ')}`);
    const releasesLeft = (await releasesOf(db, SVC)).filter((r) => !before.releases.includes(r.number)).map((r) => r.number);
    assert.deepEqual(await instances('test'), []);
    assert.deepEqual(sqliteOf(db).prepare('SELECT * FROM leases').all(), []);
    assert.deepEqual(releasesLeft, [], 'a release was recorded for a front door whose port is taken');
  });

  it('rollback goes back to the release production ran before', async () => {
    needs(MANUAL, BAD);
    const { value: back, load: result } = await underLoad(() => rollbackService(context(), SVC, 'production', { ...opts }));
    // C runs; the failed BAD and the aborted canaries of A and FLAKY never ran there to success: before C, B.
    assert.deepEqual([back.status, back.release], ['succeeded', releases.B]);
    assert.equal(result.failed, 0, show(result));
    await assertProduction('B');
    const entry = (await history(context(), SVC, 'production')).rollouts[0]!;
    assert.deepEqual([entry.kind, entry.release, entry.status, entry.forced], ['rollback', releases.B, 'succeeded', false]);
    assert.equal((await rolloutById(db, back.rollout))!.previous, releases.C);
    assert.equal((await releaseOf(db, SVC, releases.B))!.imageId, images.B);
  });
});
