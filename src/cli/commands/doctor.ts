import { cacheDir } from '../../build/rootfs.js';
import { findProjectFile, loadProject } from '../../config/project.js';
import { runChecks } from '../../doctor/checks.js';
import { connectEngine } from '../../engine/client.js';
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
    try {
      findProjectFile(flags.project as string | undefined, cwd);
      const project = loadProject(flags.project as string | undefined, env, cwd);
      needsBootstrap = [...project.images.values()].some((i) => i.root?.kind === 'debian');
      stateDir = project.stateDir;
    } catch {
      // No project (or an invalid one): doctor checks the machine, "berth build" reports the project.
    }
    const checks = await runChecks({ engine: connectEngine(env), env, folders: [cacheDir(env), ...(stateDir ? [stateDir] : [])], needsBootstrap });
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
