/**
 * `npm run demo`: Build, Ship and Run on the bundled example, with a Berth
 * server. Builds the image hierarchy here (builds stay where the CLI runs);
 * starts a local `berth server` (SQLite under examples/.berth/server, kept
 * running, reused by the next run), applies the example to it, creates a
 * deployer token and a second one with rights on production only; deploys
 * hello-java with Run to dev (nat) and production (the flat network lan: three
 * instances each with a static IP and MAC) through the server (production,
 * protected, with the admin's token); releases hello-node into dev and promotes that release through test,
 * staging and canary with the deployer's token, each rollout run by the server
 * through the service's front door (HAProxy); the promotion to the protected
 * production waits for an approval, which the same token may not give and the
 * second token gives. Then the audit log and its verification, where every
 * instance answers, 30 requests through production's front door, the history,
 * the front door's counters and the hosts. A second run changes nothing.
 * `--down` stops the server and removes every instance of both services in
 * every environment, and their front doors; addresses go to quarantine.
 */
import { get } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject } from '../imaging/builder.js';
import { buildProgress } from '../cli/build-progress.js';
import { hostsLines } from '../cli/commands/hosts.js';
import { processOutput, renderError, table, type Output } from '../cli/output.js';
import { loadProject } from '../config/project.js';
import { environmentOf, networkOf, replicasOf, serviceOf, type RunContext } from '../runtime/context.js';
import type { InstanceReport } from '../release/deploy.js';
import { Hosts } from '../runtime/hosts.js';
import { resolveImage } from '../runtime/image.js';
import { listInstances, type InstanceStatus } from '../runtime/instances.js';
import { instanceLogs, removeInstances, selectInstances } from '../release/operate.js';
import { connectEngine } from '../engine/client.js';
import { failed } from '../errors.js';
import { fleetHosts } from '../fleet/hosts.js';
import type { FrontDoorStatus } from '../lb/model.js';
import { recordedDoorStatus, stopDoorOf } from '../rollout/front-door.js';
import { history } from '../release/operations.js';
import { PENDING_APPROVAL_EXIT } from '../cli/remote.js';
import { berthThrough, ensureDemoServer, stopDemoServer, type DemoServer } from './server.js';
import { replicasIn, serviceOfRelease } from '../rollout/executor.js';
import { openStore, closeStore } from '../store/db.js';
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
  const db = await openStore(project.stateDir);
  const local: RunContext = { project, db, hosts: new Hosts(project, engine), env: process.env };
  try {
    return down ? await downAll(local, output) : await bringUp(local, output);
  } finally {
    await closeStore(db);
  }
}

/** The server's own state, read (and, for what does not go through a server yet, written) on its machine. */
async function serverRunOf(server: DemoServer): Promise<RunContext & { close(): Promise<void> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_STATE_DIR: server.stateDir, BERTH_ACTOR: 'demo' };
  delete env.BERTH_SERVER;
  const project = loadProject(EXAMPLES, env);
  const db = await openStore(project.stateDir);
  return { project, db, hosts: new Hosts(project, connectEngine()), env, close: () => closeStore(db) };
}

async function bringUp(local: RunContext, output: Output): Promise<number> {
  const { project } = local;
  const engine = local.hosts.engine(project.hosts[0]!.name);

  output.out(`== build: the image hierarchy of ${project.file} (builds stay where the CLI runs)`);
  const progress = buildProgress(output, false);
  const summary = await buildProject(project, engine, local.db, { onEvent: (e) => progress.onEvent(e) }).finally(() => progress.finish());
  if (summary.failed.length > 0) {
    throw failed(`the example did not build: ${summary.failed.map((f) => f.message).join('; ')}`, { lines: summary.failed.flatMap((f) => f.tail) });
  }
  output.out(`built ${summary.built.length}, up to date ${summary.upToDate.length}`);

  output.out(`\n== server: one control plane for the team (berth server, SQLite under ${join(project.stateDir, 'server')})`);
  const server = await ensureDemoServer(project.stateDir, (line) => output.out(line));
  const say = (line: string) => output.out(line);
  const applied = await berthThrough(server, server.tokens.admin, EXAMPLES, ['apply'], say);
  if (applied.code !== 0) throw failed('berth apply of the example failed', { lines: [applied.stderr.trim()] });
  const run = await serverRunOf(server);
  try {
    return await throughServer(local, run, server, output);
  } finally {
    run.close();
  }
}

async function throughServer(local: RunContext, run: RunContext, server: DemoServer, output: Output): Promise<number> {
  const { project, db } = run;
  const say = (line: string) => output.out(line);
  // Run: hello-java, deployed all at once (no front door), by the server: into dev with the deployer's token; production is
  // protected, and a deploy there would bypass its approvals, so only an admin token may.
  for (const environment of DEPLOY_ENVIRONMENTS) {
    const protectedEnv = environmentOf(project, environment).protected;
    output.out(`\n== deploy (Run): ${DEPLOYED} to ${environment} (${describe(run, DEPLOYED, environment)})${protectedEnv ? ", protected: the admin's token" : ", the deployer's token"}`);
    const token = protectedEnv ? server.tokens.admin : server.tokens.deployer;
    const o = await berthThrough(server, token, EXAMPLES, ['deploy', DEPLOYED, '--env', environment, '--timeout', `${DEPLOY_TIMEOUT_MS / 1000}s`], say);
    if (o.code !== 0) throw failed(`the deploy of ${DEPLOYED} to ${environment} failed (exit ${o.code})`, { fix: `see berth history ${DEPLOYED} (BERTH_SERVER=${server.url})` });
  }

  // Release: hello-node, one release moved along the pipeline through its front doors, by the server, with the deployer's token.
  const number = await releaseIntoDev(local, run, server, output);
  for (const environment of STAGES.slice(1)) {
    if (await currentRelease(db, RELEASED, environment) === number && (await isLive(run, (await releaseOf(db, RELEASED, number))!, environment))) {
      output.out(`\n== promote: ${RELEASED} release ${number} to ${environment}: already runs it, nothing to do`);
      output.out(`${RELEASED} release ${number} in ${environment}: kept; front door ${await doorUrl(run, RELEASED, environment)}`);
      continue;
    }
    const protectedEnv = environmentOf(project, environment).protected;
    output.out(`\n== promote: ${RELEASED} release ${number} to ${environment} (${describe(run, RELEASED, environment)})${protectedEnv ? ', a protected environment' : ''}`);
    const timeout = ['--timeout', `${DEPLOY_TIMEOUT_MS / 1000}s`];
    const asked = await berthThrough(server, server.tokens.deployer, EXAMPLES, ['promote', RELEASED, '--to', environment, ...timeout], say);
    if (!protectedEnv) {
      if (asked.code !== 0) throw failed(`the promotion of ${RELEASED} to ${environment} failed (exit ${asked.code})`, { fix: `see berth history ${RELEASED} (BERTH_SERVER=${server.url})` });
      continue;
    }
    const id = /approval #(\d+)/.exec(asked.stdout)?.[1];
    if (asked.code !== PENDING_APPROVAL_EXIT || id === undefined) throw failed(`the promotion to the protected ${environment} was not held for approval (exit ${asked.code})`);
    output.out(`  the same token may not approve what it asked:`);
    const self = await berthThrough(server, server.tokens.deployer, EXAMPLES, ['approve', id], say);
    if (self.code === 0) throw failed('the token that asked could approve its own promotion');
    output.out(`  a second token, with rights on ${environment}, approves it; the server runs the promotion:`);
    const approved = await berthThrough(server, server.tokens.approver, EXAMPLES, ['approve', id], say);
    if (approved.code !== 0) throw failed(`the approved promotion of ${RELEASED} to ${environment} failed (exit ${approved.code})`, { fix: `see berth history ${RELEASED} (BERTH_SERVER=${server.url})` });
  }

  output.out('\n== audit: every change asked of the server, allowed or refused, each entry chained to the one before (the last 15)');
  const audit: string[] = [];
  await berthThrough(server, server.tokens.admin, EXAMPLES, ['audit', '--since', '1h'], (line) => audit.push(line));
  for (const line of [...audit.slice(0, 2), ...audit.slice(2).slice(-15)]) say(line);
  const verified = await berthThrough(server, server.tokens.admin, EXAMPLES, ['audit', 'verify'], say);
  if (verified.code !== 0) throw failed('the audit log does not verify');

  output.out('\n== where each instance answers (GET / from this host; the services echo their BERTH_* context)');
  const problems: string[] = [];
  for (const environment of DEPLOY_ENVIRONMENTS) {
    const network = networkOf(project, environmentOf(project, environment));
    output.out(`${environment}: ${network.mode === 'flat' ? `flat network ${network.name}, each instance at its own static IP and MAC` : `network ${network.name}, through the port published on the host`}`);
    const released = await listInstances(run, { environment, service: RELEASED });
    const java = await listInstances(run, { environment, service: DEPLOYED });
    for (const [service, instances] of [[RELEASED, released], [DEPLOYED, java]] as const) {
      const port = serviceOf(project, service).ports[0] ?? 8080;
      for (const instance of instances) await showInstance(run, output, instance, port, network.mode === 'flat', problems);
    }
  }
  if (problems.length === 0) output.out('every instance answered; in production each reports the static IP and MAC Berth gave it (BERTH_IP, BERTH_MAC)');

  await throughFrontDoor(run, output, problems);
  await showHistory(run, output);
  await showCounters(run, output);

  output.out('\n== hosts: what each engine is, has and runs (berth hosts)');
  for (const line of hostsLines(await fleetHosts(run))) output.out(line);

  for (const service of SERVICES) {
    const [instance] = await selectInstances(run, service, 'production');
    output.out(`\n== runtime scripts: the log of ${instance!.slot}`);
    await instanceLogs(run, [instance!], { onLine: (_slot, line) => (/runtime\.sh/.test(line) ? output.out(`  ${line}`) : undefined) });
  }

  if (problems.length > 0) throw failed(`${problems.length} check(s) failed`, { lines: problems, fix: 'look at the logs: berth logs <service> --env <env> -p examples, and berth lb -p examples' });

  output.out(`\n== what next (the server, the instances and the front doors keep running)`);
  output.out(`  export BERTH_SERVER=${server.url} BERTH_TOKEN=$(node -e 'console.log(require("./examples/.berth/server/demo-tokens.json").admin)')`);
  output.out('  berth ps -p examples                                  every instance: state, health, address');
  output.out('  berth status -p examples                              what runs against what should, and any drift');
  output.out('  berth history hello-node -p examples                  releases and rollouts per environment');
  output.out('  berth audit -p examples                               who asked for what, allowed or refused (berth audit verify)');
  output.out('  berth hosts -p examples                               the hosts: engine, capacity, what is placed there');
  output.out(`  the server's API: curl -H "Authorization: Bearer $BERTH_TOKEN" ${server.url}/v1/instances; docs/server.md`);
  output.out('  more hosts (TLS engines, images pulled from the registry, drain and move): docs/hosts.md');
  output.out('  try a canary: change the answer in examples/services/hello-node/server.js, then');
  output.out('    berth build -p examples');
  output.out('    berth release hello-node --env dev -p examples      release N+1 into dev');
  output.out('    berth promote hello-node --to test -p examples      (then --to staging, --to canary)');
  // A canary's gates judge the requests that reached it: nothing else sends any through the door.
  const production = await doorUrl(run, RELEASED, 'production', true).catch(() => undefined);
  if (production) {
    output.out('    in another terminal, 10 requests a second for 90 s through production\'s front door (the canary\'s evidence):');
    output.out(`    node -e 'let n=0;const t=setInterval(()=>{fetch("${production}").then((r)=>r.text(),()=>{});if(++n>=900)clearInterval(t)},100)'`);
  }
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
async function releaseIntoDev(local: RunContext, run: RunContext, server: DemoServer, output: Output): Promise<number> {
  const { db } = run;
  const service = serviceOf(local.project, RELEASED);
  const dev = STAGES[0];
  // The build is this machine's (its store records it); the releases are the server's.
  const image = await resolveImage(local.project, local.hosts.buildEngine(), local.db, service);
  const current = await currentRelease(db, RELEASED, dev);
  const release = current === undefined ? undefined : await releaseOf(db, RELEASED, current);
  let reason = 'no release of it runs in dev yet';
  if (release && release.imageId === image.id) {
    const stale: string[] = [];
    for (const environment of STAGES) {
      if (await currentRelease(db, RELEASED, environment) === release.number && !(await isLive(run, release, environment))) stale.push(environment);
    }
    if (stale.length === 0) {
      output.out(`\n== release: ${RELEASED} to dev: release ${release.number} is the current build (image ${short(image.id)}) and runs there, nothing to do`);
      output.out(`${RELEASED} release ${release.number} in dev: kept; front door ${await doorUrl(run, RELEASED, dev)}`);
      return release.number;
    }
    reason = `release ${release.number} is the current build, but its instances are gone from ${stale.join(', ')}`;
  } else if (release) reason = `dev runs release ${release.number} of image ${short(release.imageId)}; the current build is ${short(image.id)}`;
  output.out(`\n== release: ${RELEASED} to dev (${describe(run, RELEASED, dev)}): ${reason}; the deployer's token, the rollout runs in the server`);
  const o = await berthThrough(server, server.tokens.deployer, EXAMPLES, ['release', RELEASED, '--env', dev, '--timeout', `${DEPLOY_TIMEOUT_MS / 1000}s`], (line) => output.out(line));
  const number = /release (\d+) in dev: succeeded/.exec(o.stdout)?.[1];
  if (o.code !== 0 || number === undefined) throw failed(`the release of ${RELEASED} into dev failed (exit ${o.code})`, { fix: `see berth history ${RELEASED} (BERTH_SERVER=${server.url})` });
  return Number(number);
}

/** Whether the environment runs the release: its front door up, and every main slot running that release's digest (the engine's health status decides nothing; the rollouts' gates probed them). */
async function isLive(run: RunContext, release: Release, environmentName: string): Promise<boolean> {
  const environment = environmentOf(run.project, environmentName);
  const replicas = await replicasIn(run, serviceOfRelease(release), environment);
  const instances = await listInstances(run, { environment: environmentName, service: release.service });
  for (let ordinal = 1; ordinal <= replicas; ordinal++) {
    const instance = instances.find((i) => i.slot === `${release.service}-${environmentName}-${ordinal}`);
    if (!instance || instance.state !== 'running' || instance.digest !== release.digest) return false;
  }
  return (await doorStatus(run, release.service, environmentName))?.running ?? false;
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

async function showHistory(run: RunContext, output: Output): Promise<void> {
  const { releases, rollouts } = await history(run, RELEASED);
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
  output.out(`\n== berth lb: ${RELEASED} in production, http://${status.address}/ ${status.running ? `(HAProxy in container ${status.members[0]?.container ?? ''})` : '(not running)'}; counters since it started`);
  output.out(`requests ${f.requests}, 2xx ${f.responses['2xx']}, 5xx ${f.responses['5xx']}, retries ${status.backend.retries}`);
  const rows = [...status.servers].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).map((s) => [s.name, s.address, String(s.weight), s.state, String(s.requests), String(s.responses['2xx']), String(s.responses['5xx']), String(s.errors.connect + s.errors.response + s.errors.redispatched)]);
  if (rows.length > 0) output.out(indent(table([['BACKEND', 'ADDRESS', 'WEIGHT', 'STATE', 'REQUESTS', '2XX', '5XX', 'ERRORS'], ...rows])));
}

/** The front door Berth recorded for the service in the environment, as `berth lb` reads it; undefined if it never had one. */
async function doorStatus(run: RunContext, service: string, environment: string): Promise<FrontDoorStatus | undefined> {
  return recordedDoorStatus(run, service, environment);
}

/** The front door's URL; `reachable` names the loopback address for one that listens on every address. */
async function doorUrl(run: RunContext, service: string, environment: string, reachable = false): Promise<string> {
  const bind = await frontDoorPort(run.db, service, environment);
  if (!bind) throw failed(`${service} has no front door in ${environment}`);
  const address = reachable && bind.address === '0.0.0.0' ? '127.0.0.1' : reachable && bind.address === '::' ? '[::1]' : bind.address.includes(':') ? `[${bind.address}]` : bind.address;
  return `http://${address}:${bind.port}/`;
}

/** --down: the server stopped first (its reconciler would bring back what is removed), then everything it and this folder ran. */
async function downAll(local: RunContext, output: Output): Promise<number> {
  if (await stopDemoServer(local.project.stateDir)) output.out('stopped the demo\'s berth server');
  const stateDir = join(local.project.stateDir, 'server');
  if (existsSync(stateDir)) {
    const run = await serverRunOf({ url: '', stateDir, tokens: { admin: '', deployer: '', approver: '' }, env: () => ({}) });
    try {
      output.out('the server\'s instances:');
      await tearDown(run, output);
    } finally {
      run.close();
    }
  }
  return tearDown(local, output);
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
      if (await stopDoorOf(run, service, environment)) output.out(`  stopped the front door of ${service} in ${environment}`);
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
