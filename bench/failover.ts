/**
 * Failover benchmark (issue 23), on a lab of three real engines (src/testing/lab.ts: dockerds in
 * network namespaces on one LAN bridge, mutual TLS), under a real `berth server` with the default
 * `fleet.failure` settings (ping every 2 s, down after 4 misses, stop grace 5 s): 20 flat instances
 * of busybox httpd run on h1 (h2 and h3 drained while they were placed, then undrained), behind the
 * server's HAProxy front door, the image already on h2 and h3 (the server's pre-pull). Then h1
 * crashes (its link down, its dockerd stopped with its instances) while a load loop runs through the
 * door, and the run measures:
 *  - crash → h1 `down` in `berth hosts`;
 *  - crash → all 20 instances running on h2 and h3 with the IP and MAC they had, each answering
 *    its health page from the LAN;
 *  - the requests through the door meanwhile, and how many failed.
 * One crash per run (the lab is made afresh each run). Removes everything it made, on failure and
 * on Ctrl-C too. Writes its figures to BENCHMARKS.md.
 * Run: node dist/bench/failover.js [--instances N]
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadProject } from '../src/config/project.js';
import { connectEngine, type Engine } from '../src/engine/client.js';
import { buildProject } from '../src/imaging/builder.js';
import { push } from '../src/registry/testing.js';
import { closeStore, openStore } from '../src/store/db.js';
import { runBerth } from '../src/testing/cli.js';
import { makeFixture, type Fixture } from '../src/testing/fixture.js';
import { startLab, type Lab } from '../src/testing/lab.js';
import { labRegistry, upLabRegistry } from '../src/testing/lab-registry.js';
import { labWebImages, labYaml } from '../src/testing/lab-web.js';
import { startLoad } from '../src/testing/load.js';
import { startTestServer, type TestServer } from '../src/testing/server.js';
import { until } from '../src/testing/until.js';
import { invocation, loadNote, machine, ms, positiveFlag, writeSection } from './lib.js';

const INSTANCES = positiveFlag('--instances') ?? 20;
const SERVICE = 'web';
const ENV = 'production';
const HEALTH = { http: '/health.html', interval: '2s', timeout: '1500ms', unhealthy_after: 5 };

interface Seen {
  host: string;
  ip: string;
  mac: string;
}

/** Whether the instance answers its health page from this machine (on the LAN) within 2 s. */
function answers(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: ip, port: 8080, path: '/health.html', timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  let fixture: Fixture | undefined;
  let lab: Lab | undefined;
  let server: TestServer | undefined;
  try {
    fixture = await makeFixture(await labWebImages());
    const f = fixture;
    lab = await startLab({ hosts: 3, dir: f.dir });
    const registry = await labRegistry(lab);
    const yaml = parse(readFileSync(join(f.dir, 'berth.yaml'), 'utf8')) as Record<string, unknown>;
    f.write(
      'berth.yaml',
      stringify({
        ...yaml,
        ...labYaml(lab, registry, [100, 199]),
        services: { [SERVICE]: { image: 'web', ports: [8080], health: HEALTH, stop_grace: '1s', rollout: { batch_size: 4, max_unavailable: 4, drain: '0s' } } },
        environments: { [ENV]: { network: 'lan', lb_address: '127.0.0.1', hosts: lab.hosts.map((h) => h.name), services: { [SERVICE]: { replicas: INSTANCES } } } },
        pipeline: [ENV],
      }),
    );
    await upLabRegistry(f, registry);
    const project = loadProject(f.dir, f.env);
    const db = await openStore(project.stateDir);
    try {
      const summary = await buildProject(project, f.engine, db, { env: f.env, only: ['web'] });
      if (summary.failed.length > 0) throw new Error(`build failed: ${JSON.stringify(summary.failed)}`);
    } finally {
      await closeStore(db);
    }
    const pushed = await push(f);
    if (pushed.failed.length > 0) throw new Error(`push failed: ${JSON.stringify(pushed.failed)}`);
    server = await startTestServer(f.dir, f.env, ['--allow-read', f.dir], { stateDir: project.stateDir });
    const s = server;
    const berth = async (...args: string[]) => {
      const out = await runBerth([...args, '-p', f.dir], { env: s.envFor(f.env), timeoutMs: 900_000 });
      if (out.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${out.code}:\n${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`);
      return out.stdout;
    };
    await berth('apply');
    const engines = new Map<string, Engine>(lab.hosts.map((h) => [h.name, connectEngine({ DOCKER_HOST: `unix://${h.socket}` })]));

    // All instances on h1: the others drained while they are placed, undrained after (placed slots stay).
    await berth('host', 'drain', 'h2');
    await berth('host', 'drain', 'h3');
    const released = JSON.parse(await berth('release', SERVICE, '--env', ENV, '--json')) as { frontDoor: { address: string; port: number } };
    const url = `http://${released.frontDoor.address}:${released.frontDoor.port}/`;
    await berth('host', 'undrain', 'h2');
    await berth('host', 'undrain', 'h3');
    const seen = async (): Promise<Map<string, Seen>> => {
      const out = new Map<string, Seen>();
      for (const [host, engine] of engines) {
        if (!lab!.hosts.find((h) => h.name === host)!.running()) continue;
        for (const c of await engine.containers.summaries([`berth.service=${SERVICE}`, `berth.project=${f.name}`])) {
          if (c.name !== `${f.name}.${c.labels['berth.instance']}` || c.state !== 'running') continue;
          const state = (await engine.containers.inspect(c.id))!;
          const endpoint = Object.values(state.networks)[0]!;
          out.set(c.labels['berth.instance']!, { host, ip: endpoint.ip, mac: endpoint.mac.toLowerCase() });
        }
      }
      return out;
    };
    const before = await seen();
    if (before.size !== INSTANCES || [...before.values()].some((x) => x.host !== 'h1')) throw new Error(`expected ${INSTANCES} instances on h1, found ${JSON.stringify([...before])}`);
    const history = JSON.parse(await berth('history', SERVICE, '--env', ENV, '--json')) as { releases: { imageId: string }[] };
    const imageId = history.releases[0]!.imageId;
    // The server's pre-pull puts the release's image on h2 and h3 after its rounds of pings: a failover never waits on the registry.
    await until('the image pre-pulled onto h2 and h3', async () => ((await engines.get('h2')!.images.has(imageId)) && (await engines.get('h3')!.images.has(imageId)) ? true : undefined), 600_000, 1000);

    const h1 = lab.hosts[0]!;
    const load = startLoad(url, { concurrency: 2, pauseMs: 50, timeoutMs: 2000, maxMs: 1_800_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const t0 = Date.now();
    await h1.link(false);
    await h1.stop();
    let downMs = NaN;
    const hostsDown = (async () => {
      await until('h1 down', async () => ((JSON.parse(await berth('hosts', '--json')) as { hosts: { name: string; health: string | null }[] }).hosts.find((h) => h.name === 'h1')?.health === 'down' ? true : undefined), 600_000, 250);
      downMs = Date.now() - t0;
    })();
    // Healthy: its health page answers from the LAN. Not the engine's exec health check: on this loaded machine
    // the engine's execs took longer than their 1.5 s timeout while the instances answered in tens of ms.
    await until(
      'every instance on h2 or h3 with its IP and MAC, answering its health page',
      async () => {
        const now = await seen();
        const there = [...before].every(([slot, was]) => {
          const x = now.get(slot);
          return x && x.host !== 'h1' && x.ip === was.ip && x.mac === was.mac;
        });
        return there && (await Promise.all([...before.values()].map((was) => answers(was.ip)))).every(Boolean) ? true : undefined;
      },
      1_800_000,
      250,
    );
    const allMs = Date.now() - t0;
    await hostsDown;
    const result = await load.stop();
    const spread = [...(await seen()).values()].reduce<Record<string, number>>((acc, x) => ({ ...acc, [x.host]: (acc[x.host] ?? 0) + 1 }), {});
    const lines = [
      `crash of h1 → h1 down in berth hosts: ${ms(downMs)}`,
      `crash of h1 → all ${INSTANCES} instances on h2/h3 with their IP and MAC, answering: ${ms(allMs)} (goal < 20 s); spread ${JSON.stringify(spread)}`,
      `requests through the front door meanwhile: ${result.requests}, failed ${result.failed} (${JSON.stringify(result.kinds)}) over ${ms(result.ms)}`,
    ];
    for (const line of lines) console.log(line);
    writeSection(
      'failover',
      [
        '## Host failover on the lab (issue 23)',
        '',
        `Reproduce: \`npm run build && ${invocation('failover')}\`. Machine: ${machine()}; ${loadNote()}. Shared with other sessions' test suites while it ran: the figures are one crash on a busy machine.`,
        '',
        `${INSTANCES} flat instances (busybox httpd, health-gated) on lab host h1, under a real \`berth server\` with the default \`fleet.failure\` settings (ping every 2 s, timeout 1.5 s, down after 4 misses, stop grace 5 s; no warden: the server listens on loopback), the image pre-pulled onto h2 and h3 by the server. h1 crashes: its link down, its dockerd stopped with its instances; a load loop (2 workers) runs through the server's HAProxy front door throughout.`,
        '',
        '| measure | value |',
        '|---|---|',
        `| crash → h1 \`down\` in \`berth hosts\` | ${ms(downMs)} |`,
        `| crash → all ${INSTANCES} on h2/h3 with the same IP and MAC, each answering its health page from the LAN (goal < 20 s) | ${ms(allMs)} |`,
        `| requests through the door meanwhile / failed | ${result.requests} / ${result.failed} |`,
        '',
        'No peer ran beside it in this run: Swarm (moby) marks a node down after about 15 s and reschedules without static IPs; Nomad after its heartbeat TTL (10 s + 10 s grace at least); Kubernetes waits 50 s to mark a node and 300 s to evict (issue 23).',
      ].join('\n'),
    );
  } finally {
    await server?.stop().catch(() => {});
    await lab?.dispose().catch((error: unknown) => console.error(String(error)));
    await fixture?.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
