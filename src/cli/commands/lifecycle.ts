/** berth restart | stop | rm: act on a service's instances (or one instance) in an environment. */
import { removeInstances, restartInstances, selectInstances, stopInstances } from '../../deploy/operate.js';
import { invalid } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { requiredFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';
import type { RunContext } from '../../deploy/context.js';
import { listInstances, type InstanceStatus } from '../../deploy/instances.js';
import { environmentOf } from '../../deploy/context.js';
import { recreateMissing } from '../../release/operations.js';
import { currentRelease } from '../../store/releases.js';
import { progress } from './release.js';

type Act = (run: RunContext, instances: InstanceStatus[], environment: string, context: CommandContext) => Promise<number>;

function lifecycle(name: string, summary: string, act: Act, select: { withMissing?: boolean } = {}): Command {
  const usage = `berth ${name} <service|instance> --env <env>`;
  return {
    name,
    summary,
    usage,
    options: { env: { type: 'string', short: 'e' } },
    run: (context) => {
      const [target, ...extra] = context.positionals;
      if (target === undefined || extra.length > 0) throw invalid('name one service or instance', { fix: `usage: ${usage}` });
      const environment = requiredFlag(context.flags.env, '--env', usage);
      return withRun(context, async (run) => act(run, await selectInstances(run, target, environment, select), environment, context));
    },
  };
}

const RESTART_USAGE = 'berth restart <service|instance> --env <env>';
/** Restart also brings back slots whose container is gone: a released service's through a rollout of what the environment runs. */
export const restartCommand: Command = {
  name: 'restart',
  summary: 'restart instances one at a time, each healthy again before the next; a missing instance is recreated on its slot and address',
  usage: RESTART_USAGE,
  options: { env: { type: 'string', short: 'e' } },
  run: (context) => {
    const [target, ...extra] = context.positionals;
    if (target === undefined || extra.length > 0) throw invalid('name one service or instance', { fix: `usage: ${RESTART_USAGE}` });
    const environment = requiredFlag(context.flags.env, '--env', RESTART_USAGE);
    const { output } = context;
    return withRun(context, async (run) => {
      environmentOf(run.project, environment);
      const all = await listInstances(run, { environment, withMissing: true });
      const isService = run.project.services.has(target);
      const missing = all.filter((i) => i.state === 'missing' && (isService ? i.service === target : i.slot === target));
      let ok = true;
      for (const service of new Set(missing.map((i) => i.service))) {
        if (await currentRelease(run.db, service, environment) === undefined) {
          for (const i of missing.filter((m) => m.service === service)) output.err(`✘ ${i.slot}: missing (no container); recreate it with: berth deploy ${service} --env ${environment}`);
          ok = false;
          continue;
        }
        await recreateMissing(run, service, environment, { emit: progress(output) });
        for (const i of missing.filter((m) => m.service === service)) output.out(`✓ ${i.slot}: recreated on its slot${i.ip ? ` (${i.ip})` : ''}, healthy`);
      }
      const recreated = new Set(missing.map((i) => i.slot));
      // Read again after a recreation: its rollout may have replaced instances that drifted from the release.
      const now = missing.length > 0 ? await listInstances(run, { environment }) : all;
      const present = now.filter((i) => i.state !== 'missing' && i.state !== 'set-aside' && !recreated.has(i.slot) && (isService ? i.service === target : i.slot === target));
      const instances = present.length === 0 && missing.length === 0 ? await selectInstances(run, target, environment) : present;
      const restarted = await restartInstances(run, instances, (slot, healthy, reason) => (healthy ? output.out(`✓ ${slot}: restarted, healthy`) : output.err(`✘ ${slot}: ${reason}`)));
      return ok && restarted ? 0 : 1;
    });
  },
};

export const stopCommand = lifecycle('stop', 'stop instances (they keep their slots and addresses; deploy or restart starts them)', async (run, instances, _env, { output }) => {
  await stopInstances(run, instances);
  for (const i of instances) output.out(`stopped ${i.slot}`);
  return 0;
});

export const rmCommand = lifecycle('rm', 'remove instances; their addresses go into quarantine', async (run, instances, environment, { output }) => {
  const released = await removeInstances(run, instances, environment);
  for (const i of instances) output.out(`removed ${i.slot}`);
  if (released.length > 0) output.out(`released into quarantine: ${released.join(', ')}`);
  return 0;
}, { withMissing: true });
