/**
 * `npm run demo`: Build and Run on the bundled example, through Berth's core
 * (the functions the CLI calls). Builds the image hierarchy, deploys both
 * services to dev (nat, a published port) and to production (the flat network
 * lan: three instances each with a static IP and MAC), shows where every
 * instance answers and what it answers, and the lines the runtime scripts
 * logged. `--down` removes every instance of both services in both
 * environments; their addresses go to quarantine.
 */
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject } from '../build/builder.js';
import { buildProgress } from '../cli/build-progress.js';
import { progress as deployProgress } from '../cli/commands/deploy.js';
import { formatDuration, processOutput, renderError, type Output } from '../cli/output.js';
import { loadProject } from '../config/project.js';
import { environmentOf, networkOf, replicasOf, serviceOf, type RunContext } from '../deploy/context.js';
import { deployService, type DeployResult, type InstanceReport } from '../deploy/deploy.js';
import { Hosts } from '../deploy/hosts.js';
import { listInstances } from '../deploy/instances.js';
import { instanceLogs, removeInstances, selectInstances } from '../deploy/operate.js';
import { connectEngine } from '../engine/client.js';
import { failed } from '../errors.js';
import { openStore } from '../store/db.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples');
const SERVICES = ['hello-node', 'hello-java'] as const;
const ENVIRONMENTS = ['dev', 'production'] as const;
/** Per instance: Tomcat can take up to about a minute when three start at once on two cores. */
const DEPLOY_TIMEOUT_MS = 180_000;

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

  const results: DeployResult[] = [];
  for (const environment of ENVIRONMENTS) {
    for (const service of SERVICES) {
      output.out(`\n== deploy: ${service} to ${environment} (${describe(run, service, environment)})`);
      const result = await deployService(run, service, environment, { timeoutMs: DEPLOY_TIMEOUT_MS, onEvent: deployProgress(output) });
      const changed = result.steps.filter((s) => s.action !== 'keep').length;
      output.out(`deployed ${service} to ${environment} (deployment ${result.deployment}) in ${formatDuration(result.durationMs)}: ${result.instances.length} instance(s) healthy, ${changed === 0 ? 'all kept' : `${changed} change(s)`}`);
      results.push(result);
    }
  }

  output.out('\n== where each instance answers (GET / from this host; the services echo their BERTH_* context)');
  const problems: string[] = [];
  for (const environment of ENVIRONMENTS) {
    const network = networkOf(project, environmentOf(project, environment));
    output.out(`${environment}: ${network.mode === 'flat' ? `flat network ${network.name}, each instance at its own static IP and MAC` : `network ${network.name}, through the port published on the host`}`);
    for (const result of results.filter((r) => r.environment === environment)) {
      const port = serviceOf(project, result.service).ports[0] ?? 8080;
      for (const instance of result.instances) {
        const url = urlOf(run, instance, port);
        if (!url) {
          problems.push(`${instance.slot}: no address to reach port ${port}`);
          continue;
        }
        output.out(`  ${instance.slot.padEnd(24)} ${url}${network.mode === 'flat' && instance.mac ? `  MAC ${instance.mac}` : ''}`);
        const answer = await fetchText(url).catch((error: Error) => ({ status: 0, body: error.message }));
        const first = answer.body.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
        output.out(`    → ${answer.status || 'no answer:'} ${first}`);
        if (answer.status !== 200) problems.push(`${instance.slot}: GET ${url} → ${answer.status || first}`);
        else if (network.mode === 'flat') {
          const mismatch = addressMismatch(first, instance);
          if (mismatch) problems.push(`${instance.slot}: ${mismatch}`);
        }
      }
    }
  }
  if (problems.length === 0) output.out('every instance answered; in production each reports the static IP and MAC Berth gave it (BERTH_IP, BERTH_MAC)');

  for (const service of SERVICES) {
    const [instance] = await selectInstances(run, service, 'production');
    output.out(`\n== runtime scripts: the log of ${instance!.slot}`);
    await instanceLogs(run, [instance!], { onLine: (_slot, line) => (/runtime\.sh/.test(line) ? output.out(`  ${line}`) : undefined) });
  }

  if (problems.length > 0) throw failed(`${problems.length} instance(s) did not answer as expected`, { lines: problems, fix: 'look at their logs: npx berth logs <service> --env <env> -p examples' });

  output.out('\n== what next (the instances keep running)');
  output.out('  npx berth ps -p examples                                  every instance: state, health, address');
  output.out('  npx berth logs hello-node --env production -p examples    the logs of the three production instances');
  output.out('  npx berth ipam -p examples                                the lan addresses: bound, quarantined, free');
  output.out('  npm run demo -- --down                                    remove them all (addresses go to quarantine)');
  return 0;
}

async function tearDown(run: RunContext, output: Output): Promise<number> {
  for (const environment of ENVIRONMENTS) {
    const instances = (await listInstances(run, { environment })).filter((i) => (SERVICES as readonly string[]).includes(i.service));
    if (instances.length === 0) {
      output.out(`${environment}: no instances`);
      continue;
    }
    const released = await removeInstances(run, instances, environment);
    output.out(`${environment}: removed ${instances.map((i) => i.slot).join(', ')}`);
    if (released.length > 0) output.out(`  addresses released into quarantine: ${released.join(', ')}`);
  }
  // The containers the demo started before it deployed through Berth's Run.
  const engine = run.hosts.engine(run.project.hosts[0]!.name);
  for (const service of SERVICES) {
    const name = `${run.project.name}-${service}-demo-1`;
    if (!(await engine.containers.inspect(name))) continue;
    await engine.containers.remove(name);
    output.out(`removed the old demo container ${name}`);
  }
  output.out('demo is down');
  return 0;
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
function urlOf(run: RunContext, instance: InstanceReport, port: number): string | undefined {
  const published = instance.ports[`${port}/tcp`];
  if (published) return `http://${run.hosts.address(instance.host)}:${published}/`;
  if (instance.ip) return `http://${instance.ip}:${port}/`;
  return undefined;
}

/** The answer's BERTH_IP and BERTH_MAC must be the instance's static address. */
function addressMismatch(answer: string, instance: InstanceReport): string | undefined {
  let context: Record<string, string> = {};
  try {
    context = (JSON.parse(answer) as { context?: Record<string, string> }).context ?? {};
  } catch {
    return 'the answer is not the JSON line the example services send';
  }
  if (context.BERTH_IP !== instance.ip) return `answers with BERTH_IP ${context.BERTH_IP ?? 'unset'}, its address is ${instance.ip}`;
  if (instance.mac && context.BERTH_MAC?.toLowerCase() !== instance.mac.toLowerCase()) return `answers with BERTH_MAC ${context.BERTH_MAC ?? 'unset'}, its MAC is ${instance.mac}`;
  return undefined;
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
