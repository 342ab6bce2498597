/** berth restart | stop | rm: act on a service's instances (or one instance) in an environment. */
import { removeInstances, restartInstances, selectInstances, stopInstances } from '../../deploy/operate.js';
import { invalid } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { requiredFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';
import type { RunContext } from '../../deploy/context.js';
import type { InstanceStatus } from '../../deploy/instances.js';

type Act = (run: RunContext, instances: InstanceStatus[], environment: string, context: CommandContext) => Promise<number>;

function lifecycle(name: string, summary: string, act: Act): Command {
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
      return withRun(context, async (run) => act(run, await selectInstances(run, target, environment), environment, context));
    },
  };
}

export const restartCommand = lifecycle('restart', 'restart instances one at a time, each healthy again before the next', async (run, instances, _env, { output }) => {
  const ok = await restartInstances(run, instances, (slot, healthy, reason) => (healthy ? output.out(`✓ ${slot}: restarted, healthy`) : output.err(`✘ ${slot}: ${reason}`)));
  return ok ? 0 : 1;
});

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
});
