/** berth restart | stop | rm: act on a service's instances (or one instance) in an environment. */
import { rmInstances, selectInstances, stopInstances } from '../../release/operate.js';
import { invalid } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { requiredFlag, timeoutFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';
import type { RunContext } from '../../runtime/context.js';
import type { InstanceStatus } from '../../runtime/instances.js';
import { restartTarget, type RestartEvent, type RestartResult } from '../../release/restart.js';
import { restart, type RestartRequest } from '../../requests/restart.js';
import { ROLLOUT_START_TIMEOUT_MS } from '../../remote/client.js';
import type { Output } from '../output.js';
import { remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
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

const RESTART_USAGE = 'berth restart <service|instance> --env <env> [--timeout 120s] [--detach]';
/** Restart also brings back slots whose container is gone: a released service's through a rollout of what the environment runs. */
export const restartCommand: Command = {
  name: 'restart',
  summary: 'restart instances one at a time, each healthy again before the next; a missing instance is recreated on its slot and address',
  usage: RESTART_USAGE,
  options: { env: { type: 'string', short: 'e' }, timeout: { type: 'string' }, detach: { type: 'boolean' } },
  run: (context) => {
    const [name, ...extra] = context.positionals;
    if (name === undefined || extra.length > 0) throw invalid('name one service or instance', { fix: `usage: ${RESTART_USAGE}` });
    const environment = requiredFlag(context.flags.env, '--env', RESTART_USAGE);
    const { service, instance } = restartTarget(name, environment);
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const request: RestartRequest = { environment, ...(instance !== undefined ? { instance } : {}), ...(timeoutMs ? { timeoutMs } : {}) };
    const { output } = context;
    return remoteOr(
      context,
      async (client) => {
        const answer = await client.post<RolloutAnswer<RestartResult>>(`/v1/services/${encodeURIComponent(service)}/restarts`, request, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
        return serverRollout<RestartResult, RestartEvent>(context, client, answer, restartExit, restartProgress(output));
      },
      () => withRun(context, async (run) => restartExit(await restart(run, service, request, { emit: restartProgress(output) }))),
    );
  },
};

/** The lines of a restart, as it goes: the recreation's rollout, then each instance. */
export function restartProgress(output: Output): (event: RestartEvent) => void {
  const rollout = progress(output);
  return (event) => {
    if (event.type === 'recreated') output.out(`✓ ${event.slot}: recreated on its slot${event.ip ? ` (${event.ip})` : ''}, healthy`);
    else if (event.type === 'not-recreated') output.err(`✘ ${event.slot}: ${event.reason}`);
    else if (event.type === 'restarted') {
      if (event.healthy) output.out(`✓ ${event.slot}: restarted, healthy`);
      else output.err(`✘ ${event.slot}: ${event.reason ?? 'not healthy'}`);
    } else rollout(event);
  };
}

const restartExit = (result: RestartResult) => (result.failed.length === 0 ? 0 : 1);

export const stopCommand = lifecycle('stop', 'stop instances (they keep their slots and addresses; deploy or restart starts them)', async (run, instances, environment, { output }) => {
  await stopInstances(run, instances, environment, { emit: progress(output) });
  for (const i of instances) output.out(`stopped ${i.slot}`);
  return 0;
});

export const rmCommand = lifecycle('rm', 'remove instances; their addresses go into quarantine', async (run, instances, environment, { output }) => {
  const released = await rmInstances(run, instances, environment, { emit: progress(output) });
  for (const i of instances) output.out(`removed ${i.slot}`);
  if (released.length > 0) output.out(`released into quarantine: ${released.join(', ')}`);
  return 0;
}, { withMissing: true });
