/**
 * `npm run demo`: Berth's main job on the bundled example. Builds the image
 * hierarchy, starts one instance of each example service and shows that their
 * runtime scripts ran and that they answer HTTP. `--down` removes them.
 */
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject } from '../build/builder.js';
import { buildProgress } from '../cli/build-progress.js';
import { processOutput, renderError } from '../cli/output.js';
import { loadProject } from '../config/project.js';
import { startInstance, waitUntil } from '../deploy/instance.js';
import { connectEngine } from '../engine/client.js';
import { failed } from '../errors.js';
import { openStore } from '../store/db.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples');
const SERVICES = ['hello-node', 'hello-java'] as const;

async function demo(down: boolean): Promise<number> {
  const output = processOutput();
  const engine = connectEngine();
  const project = loadProject(EXAMPLES);
  const instanceOf = (service: string) => `${project.name}-${service}-demo-1`;
  if (down) {
    for (const service of SERVICES) await engine.containers.remove(instanceOf(service));
    output.out('demo instances removed');
    return 0;
  }

  output.out(`== build: the image hierarchy of ${project.file}`);
  const db = openStore(project.stateDir);
  const progress = buildProgress(output, false);
  const summary = await buildProject(project, engine, db, { onEvent: (e) => progress.onEvent(e) }).finally(() => {
    progress.finish();
    db.close();
  });
  if (summary.failed.length > 0) {
    throw failed(`the example did not build: ${summary.failed.map((f) => f.message).join('; ')}`, { lines: summary.failed.flatMap((f) => f.tail) });
  }
  output.out(`built ${summary.built.length}, up to date ${summary.upToDate.length}`);

  const tags = new Map([...summary.built, ...summary.upToDate].map((b) => [b.name, b.tag]));
  for (const service of SERVICES) {
    const instance = instanceOf(service);
    output.out(`\n== run: ${service} as ${instance}`);
    const state = await startInstance(engine, {
      project: project.name,
      service,
      environment: 'demo',
      instance,
      image: tags.get(service)!,
      ports: [{ container: '8080', host: 0, hostIp: '127.0.0.1' }],
    });
    const port = state.ports['8080/tcp'];
    const url = `http://127.0.0.1:${port}`;
    const outcome = await waitUntil(engine, state.id, async () => (await fetchText(`${url}/healthz`)).status === 200, 120_000);
    const logs = await engine.containers.logs(state.id);
    if (outcome !== 'ready') {
      throw failed(`${instance} did not answer ${url}/healthz (${outcome})`, { lines: logs.trim().split('\n').slice(-15) });
    }
    output.out('runtime scripts ran (from the container log):');
    for (const line of logs.split('\n').filter((l) => /runtime\.sh/.test(l))) output.out(`  ${line}`);
    output.out(`GET ${url}/healthz → 200`);
    const root = await fetchText(`${url}/`);
    output.out(`GET ${url}/ → ${root.status} ${root.body.trim()}`);
  }
  output.out('\nboth services answer; they keep running. Remove them with: npm run demo -- --down');
  return 0;
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: 2000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

demo(process.argv.includes('--down')).then(
  (code) => (process.exitCode = code),
  (error: unknown) => (process.exitCode = renderError(processOutput(), error, process.argv.includes('--verbose'))),
);
