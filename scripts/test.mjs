#!/usr/bin/env node
/**
 * Runs the test suite: every test file of dist/src as its own node process
 * (the file itself, not under `node --test`, which would start a second
 * process per file: a quarter of the unit suite's time), the unit files (no Docker) a few at a time, then the integration
 * files, two at a time unless a file must run alone (see ALONE below). Each
 * line of a child's output is printed with the file's name in front; at the
 * end it prints the total time, the ten slowest files, and `N passed, N failed`.
 *
 *   node scripts/test.mjs              unit, then integration (what `npm test` runs)
 *   node scripts/test.mjs --unit       the unit files only (no Docker)
 *   node scripts/test.mjs --int        the integration files only
 *   node scripts/test.mjs --build      first `npm run build` when dist/ is older than the sources
 *   node scripts/test.mjs --timings F  also write every file's time to F
 *   node scripts/test.mjs --int-jobs N how many isolated integration files run at once (default INT_JOBS)
 *   node scripts/test.mjs PATTERN…     only files whose path contains a PATTERN
 *
 * Ctrl-C (or SIGTERM) starts no new file and passes the signal to the running
 * ones, whose cleanup runs; a second one kills them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Integration files that must run with nothing else beside them, by source
 * path. Every other integration file is isolated (a unique project, its own
 * temp folder, random subnets and ports the kernel picks, no machine-wide
 * effect) and may share the machine with one other.
 */
const ALONE = {
  // The lab: several dockerds in namespaces, a bridge, a FORWARD rule; subnets picked from what is free now.
  'src/testing/lab.int.test.ts': 'the lab; kills its own dockerds',
  'src/release/distribute-lab.int.test.ts': 'the lab',
  'src/release/engine-restart.int.test.ts': 'the lab; restarts a lab engine',
  'src/fleet/drain-placement.int.test.ts': 'the lab; kills a CLI mid-drain',
  'src/fleet/fleet.int.test.ts': 'the lab',
  'src/fleet/lab-unreachable.int.test.ts': 'the lab; stops a lab engine',
  'src/fleet/move.int.test.ts': 'the lab; measures failed requests under load during a move',
  'src/fleet/failover-lab.int.test.ts': 'the lab; crashes a lab host and brings it back, counts failed requests through the door',
  'src/lb/door-pair-lab.int.test.ts': 'the lab; crashes the door host that holds the shared address under load',
  // Signal and kill tests whose moment depends on timing: a signal sent when a line appears, a process killed from outside.
  // (crash.int and deploy-rollout.int are not here: their CLI kills itself at a numbered checkpoint
  // (testing/berth-killed-at.ts), the same step however busy the machine, and they assert the end state only.)
  'src/cli/commands/rollout.int.test.ts': 'Ctrl-C and a hang-up sent to the CLI mid-rollout',
  'src/reconcile/reconcile.int.test.ts': 'SIGKILLs its front door; the reconciler loop must react to engine events within its wait',
  'src/registry/errors.int.test.ts': 'kills a registry mid-push',
  'src/server/server-crash.int.test.ts': 'kills the server under load',
  'src/testing/sweep.int.test.ts': 'kills a test process, then sweeps what it left',
  // Under load: counts failed requests while the front door or a release changes.
  'src/lb/front-door.int.test.ts': 'kills haproxy; counts failed requests under load',
  'src/release/release.int.test.ts': 'counts failed requests under load',
};

const UNIT_JOBS = 3;
const INT_JOBS = 2;

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const option = (name, example) => {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) die(`${name} needs a value, e.g. ${name} ${example}`);
  args.splice(at, 2);
  return value;
};
const onlyUnit = flag('--unit');
const onlyInt = flag('--int');
const build = flag('--build');
const timingsFile = option('--timings', '/tmp/timings.txt');
const intJobsText = option('--int-jobs', '2');
const intJobs = intJobsText === undefined ? INT_JOBS : Number(intJobsText);
if (!Number.isInteger(intJobs) || intJobs < 1) die(`--int-jobs needs a whole number of 1 or more, e.g. --int-jobs 2 (got "${intJobsText}")`);
const unknown = args.find((a) => a.startsWith('--'));
if (unknown) die(`unknown option ${unknown} (known: --unit, --int, --build, --timings FILE, --int-jobs N, and path patterns)`);
const patterns = args;

function die(message) {
  console.error(`test: ${message}`);
  process.exit(2);
}

if (build && isStale()) {
  console.log('test: dist/ is older than the sources: npm run build');
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const dist = join(root, 'dist', 'src');
const sourceOf = (file) => relative(root, file).replace(/^dist\//, '').replace(/\.js$/, '.ts');
let all;
try {
  // A test whose source is gone (deleted or moved) leaves its compiled file in dist/: it is not run.
  all = findTests(dist).filter((f) => existsInSrc(sourceOf(f))).sort();
} catch {
  die(`no ${relative(root, dist)}: build first (npm run build)`);
}
for (const path of Object.keys(ALONE)) {
  if (!all.some((f) => sourceOf(f) === path) && existsInSrc(path) === false) console.warn(`test: ALONE names ${path}, which has no test file`);
}
const chosen = all.filter((f) => patterns.length === 0 || patterns.some((p) => sourceOf(f).includes(p)));
const isInt = (f) => f.endsWith('.int.test.js');
const unit = onlyInt ? [] : chosen.filter((f) => !isInt(f));
const integration = onlyUnit ? [] : chosen.filter(isInt);
if (unit.length + integration.length === 0) die(`no test file matches ${patterns.join(', ') || '(all)'}`);

// The last run's time per file: the longest go first, so the run does not end waiting on one long file.
const TIMES = join(root, 'dist', '.test-times.json');
let lastTimes = {};
try {
  lastTimes = JSON.parse(readFileSync(TIMES, 'utf8'));
} catch {
  // First run: bigger files first.
}
const expected = (file) => lastTimes[sourceOf(file)] ?? statSync(file).size / 10;
const longestFirst = (files) => [...files].sort((a, b) => expected(b) - expected(a));

const started = Date.now();
const results = [];
const engineBefore = machineDockerd();
let stopping = false;
const running = new Set();
/** The door image's build while it runs (prepareDoorImage), stopped with the files on Ctrl-C. */
let preparing;

process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

// Started beside the unit files: its Debian bootstrap waits mostly on the mirror and dpkg, not on the unit files' CPU.
const doorImage = integration.length > 0 ? prepareDoorImage() : undefined;
await runAll(unit, () => UNIT_JOBS);
await doorImage;
await runAll(integration, (file) => (ALONE[sourceOf(file)] ? 1 : intJobs), (file) => Boolean(ALONE[sourceOf(file)]));
report();

/**
 * The front door's image, built once before the integration files (on a clean machine a Debian
 * bootstrap of minutes) rather than inside the first test that starts a door; two files beside
 * each other would otherwise wait on one another's build (imaging/machine-lock.ts).
 */
function prepareDoorImage() {
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(dist, 'testing', 'prepare-door-image.js')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  preparing = child;
  let said = '';
  child.stdout.on('data', (chunk) => (said += chunk));
  child.stderr.on('data', (chunk) => (said += chunk));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      preparing = undefined;
      console.log(`test: the door image: ${said.trim() || `exit ${signal ?? code}`} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      resolve();
    });
  });
}

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

function existsInSrc(path) {
  try {
    statSync(join(root, path));
    return true;
  } catch {
    return false;
  }
}

/** Whether a source, the build's config or its bundler is newer than the bundle, the build's last output. */
function isStale() {
  let built;
  try {
    built = statSync(join(root, 'dist', 'berth.cjs')).mtimeMs;
  } catch {
    return true;
  }
  const newest = (path) => {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs;
    return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
  };
  return ['src', 'bench', 'tsconfig.json', 'package.json', 'scripts/bundle.mjs'].some((p) => existsInSrc(p) && newest(join(root, p)) > built);
}

/**
 * Runs files, at most `jobsFor(file)` at once counting the file itself: a file
 * that must run alone waits until nothing runs and holds the machine to itself.
 * Alone files go after the shared ones; within each, the longest (by the last run) first.
 */
async function runAll(files, jobsFor, alone = () => false) {
  const queue = longestFirst(files.filter((f) => !alone(f))).concat(longestFirst(files.filter(alone)));
  await new Promise((resolve) => {
    const next = () => {
      if (stopping) queue.length = 0;
      if (queue.length === 0 && running.size === 0) return resolve();
      while (queue.length > 0 && !stopping) {
        const file = queue[0];
        const limit = jobsFor(file);
        const blocked = [...running].some((r) => jobsFor(r.file) === 1);
        if (blocked || running.size >= limit) break;
        queue.shift();
        const child = runFile(file);
        running.add(child);
        child.done.then(() => {
          running.delete(child);
          next();
        });
      }
    };
    next();
  });
}

function runFile(file) {
  const name = sourceOf(file);
  const tag = name.replace(/^src\//, '').replace(/\.ts$/, '');
  const tapDir = mkdtempSync(join(tmpdir(), 'berth-test-tap-'));
  const tap = join(tapDir, 'out.tap');
  const begin = Date.now();
  console.log(`test: ▶ ${tag}`);
  // Its own process group, so a signal reaches the file's test process too (as a terminal's Ctrl-C would).
  const child = spawn(process.execPath, ['--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  });
  const prefix = (stream, out) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) out.write(`[${tag}] ${line}\n`);
    });
    stream.on('end', () => rest && out.write(`[${tag}] ${rest}\n`));
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  const done = new Promise((resolve) => {
    child.on('error', (error) => console.error(`[${tag}] could not start: ${error.message}`));
    child.on('close', async (code, signal) => {
      // On Ctrl-C the file's process may have children still cleaning up (testing/cleanup.ts).
      if (stopping) await groupGone(child.pid, tag);
      const ms = Date.now() - begin;
      let counts = { pass: 0, fail: 0, failures: [] };
      try {
        counts = parseTap(readFileSync(tap, 'utf8'));
      } catch {
        // No TAP output: the child died before reporting; counted as one failure below.
      }
      rmSync(tapDir, { recursive: true, force: true });
      // A file that exits non-zero with no failing test (it crashed, or a hook failed) still fails the run.
      if (code !== 0 && counts.fail === 0) {
        counts.fail = 1;
        counts.failures.push(`the file exited with ${signal ?? `code ${code}`}`);
      }
      results.push({ name, ms, ...counts });
      console.log(`test: ${counts.fail > 0 ? '✖' : '✔'} ${tag}: ${counts.pass} passed, ${counts.fail} failed in ${seconds(ms)}`);
      resolve();
    });
  });
  return { file, child, done };
}

/** The summary TAP prints at its end (# pass, # fail, # cancelled), and the names of the tests that failed. */
function parseTap(text) {
  const count = (key) => Number(text.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0);
  const failures = [...text.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  // A test left pending when the loop empties prints `not ok` under a summary of `# fail 0`: a `not ok` always fails the file.
  return { pass: count('pass'), fail: Math.max(count('fail') + count('cancelled'), failures.length > 0 ? 1 : 0), failures };
}

function stop(signal) {
  if (stopping) {
    console.error(`test: ${signal} again: killing ${running.size} running file(s)`);
    for (const r of running) kill(r.child, 'SIGKILL');
    if (preparing) kill(preparing, 'SIGKILL');
    return;
  }
  stopping = true;
  if (preparing) kill(preparing, signal);
  console.error(`test: ${signal}: no new file; waiting for ${running.size} running file(s) to clean up (${signal} again kills them)`);
  for (const r of running) kill(r.child, signal);
}

/** Resolves once no process of the group is left, or after the cleanup's bound (60 s) and a margin. */
async function groupGone(pgid, tag) {
  const deadline = Date.now() + 75_000;
  let said = false;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) return console.error(`[${tag}] still cleaning up after 75 s; left to the next sweep`);
    if (!said) console.error(`[${tag}] waiting for its cleanup`);
    said = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function kill(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function seconds(ms) {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** The pid of this machine's own dockerd, which no test may stop or restart; undefined when there is none here. */
function machineDockerd() {
  try {
    return Number(readFileSync('/var/run/docker.pid', 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function report() {
  const total = Date.now() - started;
  const engineAfter = machineDockerd();
  if (integration.length > 0 && engineBefore !== engineAfter) {
    results.push({ name: '(the machine\'s dockerd)', ms: 0, pass: 0, fail: 1, failures: [`its pid changed during the run (${engineBefore ?? 'none'} → ${engineAfter ?? 'none'}): a test stopped or restarted the machine's engine; a test may restart only a lab engine it started`] });
  }
  try {
    writeFileSync(TIMES, JSON.stringify({ ...lastTimes, ...Object.fromEntries(results.filter((r) => r.ms > 0).map((r) => [r.name, r.ms])) }, null, 1));
  } catch {
    // Only an ordering hint.
  }
  const passed = results.reduce((n, r) => n + r.pass, 0);
  const failed = results.reduce((n, r) => n + r.fail, 0);
  const slowest = [...results].sort((a, b) => b.ms - a.ms);
  if (timingsFile) {
    const lines = slowest.map((r) => `${(r.ms / 1000).toFixed(1).padStart(8)} s  ${String(r.pass).padStart(3)} passed ${String(r.fail).padStart(2)} failed  ${r.name}${ALONE[r.name] ? '  (alone)' : ''}`);
    writeFileSync(timingsFile, `${lines.join('\n')}\ntotal ${seconds(total)} (${(total / 1000).toFixed(0)} s) for ${results.length} files\n${passed} passed, ${failed} failed\n`);
  }
  console.log('');
  const failedFiles = results.filter((r) => r.fail > 0);
  if (failedFiles.length > 0) {
    console.log('Failed:');
    for (const r of failedFiles) {
      console.log(`  ${r.name}`);
      for (const f of r.failures) console.log(`    ✖ ${f}`);
    }
    console.log('');
  }
  if (stopping) console.log(`Interrupted: ${unit.length + integration.length - results.filter((r) => r.ms > 0).length} file(s) not run; the running ones were stopped.`);
  console.log(`Total time: ${seconds(total)} for ${results.length} files`);
  console.log('Slowest files:');
  for (const r of slowest.slice(0, 10)) console.log(`  ${seconds(r.ms).padStart(7)}  ${r.name}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || stopping ? 1 : 0;
}
