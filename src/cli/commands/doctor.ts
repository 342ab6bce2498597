import { cacheDir } from '../../imaging/rootfs.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { findProjectFile, loadProject } from '../../config/project.js';
import { runChecks, type Check } from '../../doctor/checks.js';
import { doorHostChecks, seeDoorHost } from '../../doctor/door-hosts.js';
import { bridgeCheck, hostChecks } from '../../doctor/hosts.js';
import { Hosts } from '../../runtime/hosts.js';
import type { Project } from '../../config/model.js';
import { connectEngine } from '../../engine/client.js';
import { stateModeWarning } from '../../store/state-modes.js';
import type { Command } from '../command.js';
import { printJson, table } from '../output.js';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the engine, cgroups, network features, disk and tools Berth relies on',
  usage: 'berth doctor [--json]',
  options: { json: { type: 'boolean' } },
  async run({ flags, output, env, cwd }) {
    // Doctor also runs outside a project; with one, it knows whether Debian roots are needed.
    let needsBootstrap = false;
    let stateDir: string | undefined;
    let project: Project | undefined;
    try {
      findProjectFile(flags.project as string | undefined, cwd);
      project = loadProject(flags.project as string | undefined, env, cwd);
      needsBootstrap = [...project.images.values()].some((i) => i.root?.kind === 'debian');
      stateDir = project.stateDir;
    } catch {
      // No project (or an invalid one): doctor checks the machine, "berth build" reports the project.
    }
    // A server's state (BERTH_STATE_DIR=<its --state>) is checked outside a project too.
    stateDir ??= env.BERTH_STATE_DIR ? resolve(cwd, env.BERTH_STATE_DIR) : undefined;
    const engine = connectEngine(env);
    const [checks, fleet] = await Promise.all([
      runChecks({ engine, env, folders: [cacheDir(env), ...(stateDir ? [stateDir] : [])], needsBootstrap }),
      project ? fleetChecks(project, engine) : Promise.resolve([]),
    ]);
    checks.push(...fleet);
    if (stateDir) checks.push(stateCheck(stateDir));
    const ok = checks.every((c) => c.status !== 'fail');
    if (flags.json) {
      printJson(output, { ok, checks });
    } else {
      output.out(table([['CHECK', 'STATUS', 'DETAIL'], ...checks.map((c) => [c.name, c.status, c.detail])]));
      for (const c of checks.filter((c) => c.status !== 'ok' && c.fix)) output.out(`${c.status === 'fail' ? 'FIX' : 'hint'} (${c.name}): ${c.fix}`);
      output.out(ok ? '\nready' : '\nnot ready: fix the problems marked "fail" above');
    }
    return ok ? 0 : 1;
  },
};

/** Whether only the user running Berth may read its state (a warning otherwise: Berth does not change an existing state's modes). */
function stateCheck(stateDir: string): Check {
  const wide = stateModeWarning(stateDir);
  if (wide) return { name: 'state permissions', status: 'warn', ...wide };
  return { name: 'state permissions', status: 'ok', detail: existsSync(stateDir) ? `${stateDir}: only its owner may read it` : `${stateDir}: not made yet (it will be made 0700)` };
}

/** Every host of the project, each flat network's bridge where Berth can see it, and the door hosts of each environment with a shared address. */
async function fleetChecks(project: Project, engine: ReturnType<typeof connectEngine>): Promise<Check[]> {
  const hosts = new Hosts(project, engine);
  const doctorHosts = project.hosts.map((h) => ({
    name: h.name,
    endpoint: h.engine,
    engine: hosts.engine(h.name),
    // Without TLS material (HostSpec.tls, or insecure: true) a tcp:// engine is plain HTTP.
    plainTcp: h.engine.startsWith('tcp://') && ((h as { insecure?: boolean }).insecure === true || (h as { tls?: unknown }).tls === undefined),
    local: hosts.isLocal(h.name),
  }));
  const bridges = [...project.networks.values()].flatMap((n) => {
    if (n.mode !== 'flat' || !n.bridge) return [];
    const on = new Set([...project.environments.values()].filter((e) => e.network === n.name).flatMap((e) => e.hosts));
    const where = doctorHosts.filter((h) => on.has(h.name));
    return where.length > 0 ? [bridgeCheck({ name: n.name, bridge: n.bridge, createBridge: n.createBridge }, where)] : [];
  });
  const doors = [...project.environments.values()].flatMap((e) => {
    const address = e.frontDoor?.address;
    if (address === undefined) return [];
    const door = { project: project.name, environment: e.name, address };
    return [Promise.all(e.frontDoor!.hosts.map((host) => seeDoorHost(door, { host, engine: hosts.engine(host) }))).then((seen) => doorHostChecks(door, seen))];
  });
  const [reached, doorChecks] = await Promise.all([hostChecks(doctorHosts), Promise.all(doors)]);
  return [...reached, ...bridges, ...doorChecks.flat()];
}
