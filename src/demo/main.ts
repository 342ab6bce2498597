/**
 * `npm run demo`: Build, Run and Release on the bundled example, through
 * Berth's core (the functions the CLI calls). Builds the image hierarchy;
 * deploys hello-java with Run to dev (nat, a published port) and production
 * (the flat network lan: three instances each with a static IP and MAC);
 * releases hello-node into dev and promotes that release through test,
 * staging, canary and production, each rollout through the service's front
 * door (HAProxy). Then shows where every instance answers, 30 requests through
 * production's front door spread over its three instances, the release
 * history, the front door's counters and the hosts (berth hosts). A second
 * run changes nothing.
 * `--down` removes every instance of both services in every environment and
 * stops their front doors; addresses go to quarantine.
 */
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject } from '../build/builder.js';
import { buildProgress } from '../cli/build-progress.js';
import { progress as deployProgress } from '../cli/commands/deploy.js';
import { hostsLines } from '../cli/commands/hosts.js';
import { progress as rolloutProgress } from '../cli/commands/release.js';
import { formatDuration, processOutput, renderError, table, type Output } from '../cli/output.js';
import { loadProject } from '../config/project.js';
import { environmentOf, networkOf, replicasOf, serviceOf, type RunContext } from '../deploy/context.js';
import { deployService, type DeployResult, type InstanceReport } from '../deploy/deploy.js';
import { Hosts } from '../deploy/hosts.js';
import { resolveImage } from '../deploy/image.js';
import { listInstances, type InstanceStatus } from '../deploy/instances.js';
import { instanceLogs, removeInstances, selectInstances } from '../deploy/operate.js';
import { connectEngine } from '../engine/client.js';
import { failed } from '../errors.js';
import { fleetHosts } from '../fleet/hosts.js';
import { frontDoorStatus, stopFrontDoor } from '../lb/front-door.js';
import type { FrontDoorStatus } from '../lb/model.js';
import { frontDoorDir } from '../lb/paths.js';
import { history, promoteService, releaseService } from '../release/operations.js';
import { replicasIn, serviceOfRelease, type RolloutResult } from '../release/rollout.js';
import { openStore } from '../store/db.js';
import { currentRelease, frontDoorPort, releaseOf, type Release } from '../store/releases.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples');
const SERVICES = ['hello-node', 'hello-java'] as const;
/** hello-java goes through Run (berth deploy) to these. */
const DEPLOYED = 'hello-java';
const DEPLOY_ENVIRONMENTS = ['dev', 'production'] as const;
/** hello-node goes through Release: released into dev, promoted along the pipeline. */
const RELEASED = 'hello-node';
const STAGES = ['dev', 'test', 'staging', 'canary', 'production'] as const;
/** Per instance: Tomcat can take up to about a minute when three start at once on two cores. */
const DEPLOY_TIMEOUT_MS = 180_000;
/** Requests sent through production's front door. */
const REQUESTS = 30;

async function demo(down: boolean): Promise<number> {
  const output = processOutput();
  const project = loadProject(EXAMPLES);
  const engine = connectEngine();
  const db = openStore(project.stateDir);
  const run: RunContext = { project, db, hosts: new Hosts(project, engine), env: process.env };
  try {
    return down ? await tearDown(run, output) : await bringUp(run, output);
  } finally {
    db.close();
  }
}

async function bringUp(run: RunContext, output: Output): Promise<number> {
  const { project, db } = run;
  const engine = run.hosts.engine(project.hosts[0]!.name);

  output.out(`== build: the image hierarchy of ${project.file}`);
  const progress = buildProgress(output, false);
  const summary = await buildProject(project, engine, db, { onEvent: (e) => progress.onEvent(e) }).finally(() => progress.finish());
  if (summary.failed.length > 0) {
    throw failed(`the example did not build: ${summary.failed.map((f) => f.message).join('; ')}`, { lines: summary.failed.flatMap((f) => f.tail) });
  }
  output.out(`built ${summary.built.length}, up to date ${summary.upToDate.length}`);

  // Run: hello-java, deployed all at once (no front door).
  const deployed: DeployResult[] = [];
  for (const environment of DEPLOY_ENVIRONMENTS) {
    output.out(`\n== deploy (Run): ${DEPLOYED} to ${environment} (${describe(run, DEPLOYED, environment)})`);
    const result = await deployService(run, DEPLOYED, environment, { timeoutMs: DEPLOY_TIMEOUT_MS, onEvent: deployProgress(output) });
    const changed = result.steps.filter((s) => s.action !== 'keep').length;
    output.out(`deployed ${DEPLOYED} to ${environment} (deployment ${result.deployment}) in ${formatDuration(result.durationMs)}: ${result.instances.length} instance(s) healthy, ${changed === 0 ? 'all kept' : `${changed} change(s)`}`);
    deployed.push(result);
  }

  // Release: hello-node, one release moved along the pipeline through its front doors.
  const number = await releaseIntoDev(run, output);
  for (const environment of STAGES.slice(1)) {
    if (currentRelease(db, RELEASED, environment) === number && (await isLive(run, releaseOf(db, RELEASED, number)!, environment))) {
      output.out(`\n== promote: ${RELEASED} release ${number} to ${environment}: already runs it, nothing to do`);
      output.out(`${RELEASED} release ${number} in ${environment}: kept; front door ${await doorUrl(run, RELEASED, environment)}`);
      continue;
    }
    output.out(`\n== promote: ${RELEASED} release ${number} to ${environment} (${describe(run, RELEASED, environment)})`);
    const started = Date.now();
    finish(output, await promoteService(run, RELEASED, environment, { timeoutMs: DEPLOY_TIMEOUT_MS, emit: rolloutProgress(output) }), Date.now() - started);
  }

  output.out('\n== where each instance answers (GET / from this host; the services echo their BERTH_* context)');
  const problems: string[] = [];
  for (const environment of DEPLOY_ENVIRONMENTS) {
    const network = networkOf(project, environmentOf(project, environment));
    output.out(`${environment}: ${network.mode === 'flat' ? `flat network ${network.name}, each instance at its own static IP and MAC` : `network ${network.name}, through the port published on the host`}`);
    const released = await listInstances(run, { environment, service: RELEASED });
    const java = deployed.find((r) => r.environment === environment)!.instances;
    for (const [service, instances] of [[RELEASED, released], [DEPLOYED, java]] as const) {
      const port = serviceOf(project, service).ports[0] ?? 8080;
      for (const instance of instances) await showInstance(run, output, instance, port, network.mode === 'flat', problems);
    }
  }
  if (problems.length === 0) output.out('every instance answered; in production each reports the static IP and MAC Berth gave it (BERTH_IP, BERTH_MAC)');

  await throughFrontDoor(run, output, problems);
  showHistory(run, output);
  await showCounters(run, output);

  output.out('\n== hosts: what each engine is, has and runs (berth hosts)');
  for (const line of hostsLines(await fleetHosts(run))) output.out(line);

  for (const service of SERVICES) {
    const [instance] = await selectInstances(run, service, 'production');
    output.out(`\n== runtime scripts: the log of ${instance!.slot}`);
    await instanceLogs(run, [instance!], { onLine: (_slot, line) => (/runtime\.sh/.test(line) ? output.out(`  ${line}`) : undefined) });
  }

  if (problems.length > 0) throw failed(`${problems.length} check(s) failed`, { lines: problems, fix: 'look at the logs: berth logs <service> --env <env> -p examples, and berth lb -p examples' });

  output.out('\n== what next (the instances and front doors keep running)');
  output.out('  berth ps -p examples                                  every instance: state, health, address');
  output.out('  berth logs hello-node --env production -p examples    the logs of the three production instances');
  output.out('  berth ipam -p examples                                the lan addresses: bound, quarantined, free');
  output.out('  berth history hello-node -p examples                  releases and rollouts per environment');
  output.out('  berth lb -p examples                                  the front doors: backends, weights, counters');
  output.out('  berth hosts -p examples                               the hosts: engine, capacity, what is placed there');
  output.out('  more hosts (TLS engines, images pulled from the registry, drain and move): docs/hosts.md');
  output.out('  try a canary: change the answer in examples/services/hello-node/server.js, then');
  output.out('    berth build -p examples');
  output.out('    berth release hello-node --env dev -p examples      release N+1 into dev');
  output.out('    berth promote hello-node --to test -p examples      (then --to staging, --to canary)');
  output.out('    berth promote hello-node --to production --canary 34% -p examples');
  output.out('                                                            one canary beside the three, a third of the traffic; promoted or aborted by its gates after 30 s');
  output.out('  npm run demo -- --down                                    remove them all (front doors stopped, addresses to quarantine)');
  return 0;
}

/**
 * The release dev runs when it is the current build of hello-node and runs
 * (with every stage that ran it to success still running it); otherwise a new
 * release of the current build, rolled out to dev.
 */
async function releaseIntoDev(run: RunContext, output: Output): Promise<number> {
  const { project, db } = run;
  const service = serviceOf(project, RELEASED);
  const dev = STAGES[0];
  const image = await resolveImage(project, run.hosts.buildEngine(), db, service);
  const current = currentRelease(db, RELEASED, dev);
  const release = current === undefined ? undefined : releaseOf(db, RELEASED, current);
  let reason = 'no release of it runs in dev yet';
  if (release && release.imageId === image.id) {
    const stale: string[] = [];
    for (const environment of STAGES) {
      if (currentRelease(db, RELEASED, environment) === release.number && !(await isLive(run, release, environment))) stale.push(environment);
    }
    if (stale.length === 0) {
      output.out(`\n== release: ${RELEASED} to dev: release ${release.number} is the current build (image ${short(image.id)}) and runs there, nothing to do`);
      output.out(`${RELEASED} release ${release.number} in dev: kept; front door ${await doorUrl(run, RELEASED, dev)}`);
      return release.number;
    }
    reason = `release ${release.number} is the current build, but its instances are gone from ${stale.join(', ')}`;
  } else if (release) reason = `dev runs release ${release.number} of image ${short(release.imageId)}; the current build is ${short(image.id)}`;
  output.out(`\n== release: ${RELEASED} to dev (${describe(run, RELEASED, dev)}): ${reason}`);
  const started = Date.now();
  const result = await releaseService(run, RELEASED, dev, { timeoutMs: DEPLOY_TIMEOUT_MS, emit: rolloutProgress(output) });
  finish(output, result, Date.now() - started);
  return result.created.number;
}

/** Whether the environment runs the release: its front door up, and every main slot running that release's digest (the engine's health status decides nothing; the rollouts' gates probed them). */
async function isLive(run: RunContext, release: Release, environmentName: string): Promise<boolean> {
  const environment = environmentOf(run.project, environmentName);
  const replicas = replicasIn(run, serviceOfRelease(release), environment);
  const instances = await listInstances(run, { environment: environmentName, service: release.service });
  for (let ordinal = 1; ordinal <= replicas; ordinal++) {
    const instance = instances.find((i) => i.slot === `${release.service}-${environmentName}-${ordinal}`);
    if (!instance || instance.state !== 'running' || instance.digest !== release.digest) return false;
  }
  return (await doorStatus(run, release.service, environmentName))?.running ?? false;
}

/** The CLI's summary line of a rollout; anything but success is an error. */
function finish(output: Output, result: RolloutResult, ms: number): void {
  const door = `front door http://${result.frontDoor.address}:${result.frontDoor.port}/`;
  output.out(`${result.service} release ${result.release} in ${result.environment}: ${result.status}${result.message ? ` (${result.message})` : ''} in ${formatDuration(ms)}; ${door}`);
  if (result.status !== 'succeeded') throw failed(`the rollout of ${result.service} release ${result.release} to ${result.environment} ended ${result.status}`, { fix: `see berth history ${result.service} -p examples` });
}

/** Production's front door: 30 requests, counted by the instance that answered. */
async function throughFrontDoor(run: RunContext, output: Output, problems: string[]): Promise<void> {
  const url = await doorUrl(run, RELEASED, 'production', true);
  output.out(`\n== production's front door: ${url} (HAProxy, round robin over the instances)`);
  const counts = new Map<string, number>();
  let failures = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const answer = await fetchText(url).catch((error: Error) => ({ status: 0, body: error.message }));
    const instance = answer.status === 200 ? contextOf(answer.body)?.BERTH_INSTANCE : undefined;
    if (instance === undefined) {
      failures++;
      continue;
    }
    counts.set(instance, (counts.get(instance) ?? 0) + 1);
  }
  output.out(`${REQUESTS} requests: ${REQUESTS - failures} answered${failures > 0 ? `, ${failures} failed` : ''}`);
  for (const [instance, n] of [...counts].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) output.out(`  ${instance.padEnd(24)} ${String(n).padStart(2)}  ${'#'.repeat(n)}`);
  const slots = (await listInstances(run, { environment: 'production', service: RELEASED })).map((i) => i.slot);
  const missed = slots.filter((s) => !counts.has(s));
  if (failures > 0) problems.push(`${failures} of ${REQUESTS} requests through ${url} failed`);
  if (missed.length > 0) problems.push(`no request through ${url} reached ${missed.join(', ')}`);
}

function showHistory(run: RunContext, output: Output): void {
  const { releases, rollouts } = history(run, RELEASED);
  const shown = rollouts.slice(0, 10);
  output.out(`\n== history: ${releases.length} release(s) of ${RELEASED}, the last ${shown.length} of ${rollouts.length} rollout(s), newest first`);
  const rows = shown.map((r) => [String(r.rollout), r.environment, String(r.release), r.digest.replace('sha256:', '').slice(0, 12), r.kind + (r.forced ? ' (forced)' : ''), r.status, r.startedAt.replace('T', ' ').slice(0, 19)]);
  output.out(indent(table([['#', 'ENV', 'RELEASE', 'DIGEST', 'KIND', 'OUTCOME', 'STARTED'], ...rows])));
}

/** What `berth lb` shows of production's front door: requests per backend since HAProxy started. */
async function showCounters(run: RunContext, output: Output): Promise<void> {
  const status = await doorStatus(run, RELEASED, 'production');
  if (!status) return;
  const f = status.frontend;
  output.out(`\n== berth lb: ${RELEASED} in production, http://${status.address}/ ${status.running ? `(HAProxy pid ${status.pid})` : '(not running)'}; counters since it started`);
  output.out(`requests ${f.requests}, 2xx ${f.responses['2xx']}, 5xx ${f.responses['5xx']}, retries ${status.backend.retries}`);
  const rows = [...status.servers].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).map((s) => [s.name, s.address, String(s.weight), s.state, String(s.requests), String(s.responses['2xx']), String(s.responses['5xx']), String(s.errors.connect + s.errors.response + s.errors.redispatched)]);
  if (rows.length > 0) output.out(indent(table([['BACKEND', 'ADDRESS', 'WEIGHT', 'STATE', 'REQUESTS', '2XX', '5XX', 'ERRORS'], ...rows])));
}

/** The front door Berth recorded for the service in the environment, as `berth lb` reads it; undefined if it never had one. */
async function doorStatus(run: RunContext, service: string, environment: string): Promise<FrontDoorStatus | undefined> {
  const bind = frontDoorPort(run.db, service, environment);
  if (!bind) return undefined;
  return frontDoorStatus({ id: `${environment}-${service}`, bind, dir: frontDoorDir(run.project.stateDir, service, environment) });
}

/** The front door's URL; `reachable` names the loopback address for one that listens on every address. */
async function doorUrl(run: RunContext, service: string, environment: string, reachable = false): Promise<string> {
  const bind = frontDoorPort(run.db, service, environment);
  if (!bind) throw failed(`${service} has no front door in ${environment}`);
  const address = reachable && bind.address === '0.0.0.0' ? '127.0.0.1' : reachable && bind.address === '::' ? '[::1]' : bind.address.includes(':') ? `[${bind.address}]` : bind.address;
  return `http://${address}:${bind.port}/`;
}

async function tearDown(run: RunContext, output: Output): Promise<number> {
  for (const environment of STAGES) {
    const instances = (await listInstances(run, { environment })).filter((i) => (SERVICES as readonly string[]).includes(i.service));
    if (instances.length === 0) output.out(`${environment}: no instances`);
    else {
      // Removing all of a service's instances also stops its front door there.
      const released = await removeInstances(run, instances, environment);
      output.out(`${environment}: removed ${instances.map((i) => i.slot).join(', ')}`);
      if (released.length > 0) output.out(`  addresses released into quarantine: ${released.join(', ')}`);
    }
    // A front door left without instances (a release that failed, an earlier experiment).
    for (const service of SERVICES) {
      if (await stopFrontDoor(frontDoorDir(run.project.stateDir, service, environment))) output.out(`  stopped the front door of ${service} in ${environment}`);
    }
  }
  // The containers the demo started before it deployed through Berth's Run.
  const engine = run.hosts.engine(run.project.hosts[0]!.name);
  for (const service of SERVICES) {
    const name = `${run.project.name}-${service}-demo-1`;
    if (!(await engine.containers.inspect(name))) continue;
    await engine.containers.remove(name);
    output.out(`removed the old demo container ${name}`);
  }
  output.out('demo is down (the release history stays: berth history hello-node -p examples)');
  return 0;
}

async function showInstance(run: RunContext, output: Output, instance: InstanceReport | InstanceStatus, port: number, flat: boolean, problems: string[]): Promise<void> {
  const url = urlOf(run, instance, port);
  if (!url) {
    problems.push(`${instance.slot}: no address to reach port ${port}`);
    return;
  }
  output.out(`  ${instance.slot.padEnd(24)} ${url}${flat && instance.mac ? `  MAC ${instance.mac}` : ''}`);
  const answer = await fetchText(url).catch((error: Error) => ({ status: 0, body: error.message }));
  const first = answer.body.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  output.out(`    → ${answer.status || 'no answer:'} ${first}`);
  if (answer.status !== 200) problems.push(`${instance.slot}: GET ${url} → ${answer.status || first}`);
  else if (flat) {
    const mismatch = addressMismatch(first, instance);
    if (mismatch) problems.push(`${instance.slot}: ${mismatch}`);
  }
}

/** "network nat: 1 instance, port published on the host" or "flat network lan: 3 instances, static IP and MAC, no port mapping". */
function describe(run: RunContext, service: string, environmentName: string): string {
  const environment = environmentOf(run.project, environmentName);
  const network = networkOf(run.project, environment);
  const replicas = replicasOf(serviceOf(run.project, service), environment);
  const count = `${replicas} instance${replicas === 1 ? '' : 's'}`;
  if (network.mode === 'flat') return `flat network ${network.name}: ${count}, static IP and MAC, no port mapping`;
  if (network.mode === 'nat') return `network ${network.name}: ${count}, port published on the host`;
  return `host network: ${count}`;
}

/** A flat instance's own address; a nat instance's published port on its host. */
function urlOf(run: RunContext, instance: InstanceReport | InstanceStatus, port: number): string | undefined {
  const published = instance.ports[`${port}/tcp`];
  if (published) return `http://${run.hosts.address(instance.host)}:${published}/`;
  if (instance.ip) return `http://${instance.ip}:${port}/`;
  return undefined;
}

/** The BERTH_* context of the JSON line the example services answer with. */
function contextOf(answer: string): Record<string, string> | undefined {
  try {
    return (JSON.parse(answer) as { context?: Record<string, string> }).context;
  } catch {
    return undefined;
  }
}

/** The answer's BERTH_IP and BERTH_MAC must be the instance's static address. */
function addressMismatch(answer: string, instance: InstanceReport | InstanceStatus): string | undefined {
  const context = contextOf(answer);
  if (!context) return 'the answer is not the JSON line the example services send';
  if (context.BERTH_IP !== instance.ip) return `answers with BERTH_IP ${context.BERTH_IP ?? 'unset'}, its address is ${instance.ip}`;
  if (instance.mac && context.BERTH_MAC?.toLowerCase() !== instance.mac.toLowerCase()) return `answers with BERTH_MAC ${context.BERTH_MAC ?? 'unset'}, its MAC is ${instance.mac}`;
  return undefined;
}

function short(id: string): string {
  return id.replace('sha256:', '').slice(0, 12);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: 5000, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

demo(process.argv.includes('--down')).then(
  (code) => (process.exitCode = code),
  (error: unknown) => (process.exitCode = renderError(processOutput(), error, process.argv.includes('--verbose'))),
);
