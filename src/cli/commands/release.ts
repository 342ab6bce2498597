/** berth release | promote | rollback | scale | canary: the Release capability's commands. */
import { decideCanary, type CanaryRequest } from '../../requests/canary.js';
import { parseShare } from '../../release/pipeline.js';
import type { RolloutEvent } from '../../rollout/rollout-context.js';
import type { RolloutResult } from '../../rollout/executor.js';
import { promote, type PromoteRequest } from '../../requests/promote.js';
import { release, type ReleaseRequest } from '../../requests/release.js';
import { rollback, type RollbackRequest } from '../../requests/rollback.js';
import { scale, type ScaleRequest } from '../../requests/scale.js';
import { invalid } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { durationFlag, positiveFlag, requiredFlag, timeoutFlag } from '../flags.js';
import { printJson, type Output } from '../output.js';
import { withRun } from '../run-workspace.js';
import { exitOf, imageForServer, remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
import { ROLLOUT_START_TIMEOUT_MS, type ServerClient } from '../../remote/client.js';

export function progress(output: Output): (event: RolloutEvent) => void {
  return (event) => {
    if (event.type === 'step') output.out(`[${event.index}/${event.total}] ${event.text}`);
    else if (event.type === 'instance') output.out(`  ${event.slot}: ${event.text}`);
    else output.out(`note: ${event.text}`);
  };
}

/** The exit code says whether the rollout reached its target (errors.ts `rolloutExitCodes`); `abortAsked`: `berth canary abort` did what was asked. */
export function finish(context: CommandContext, result: RolloutResult, abortAsked = false): number {
  if (context.flags.json) printJson(context.output, result);
  else {
    const door = `front door http://${result.frontDoor.address}:${result.frontDoor.port}/`;
    context.output.out(`${result.service} release ${result.release} in ${result.environment}: ${result.status}${result.message ? ` (${result.message})` : ''}; ${door}`);
  }
  return exitOf(result, abortAsked);
}

function serviceArg(context: CommandContext, usage: string): string {
  const [service, ...extra] = context.positionals;
  if (service === undefined || extra.length > 0) throw invalid('name exactly one service', { fix: `usage: ${usage}` });
  return service;
}

const common = { json: { type: 'boolean' }, timeout: { type: 'string' }, detach: { type: 'boolean' } } as const;

/** Through the server: start the rollout there and follow it (or not, with --detach), rendering it as in-process. */
function viaServer(context: CommandContext, path: string, body: object, abortAsked = false) {
  return async (client: ServerClient) => {
    const timeoutMs = timeoutFlag(context.flags.timeout);
    const answer = await client.post<RolloutAnswer>(path, { ...body, ...(timeoutMs ? { timeoutMs } : {}) }, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
    return serverRollout(context, client, answer, (result) => finish(context, result, abortAsked), progress(context.output));
  };
}

function rolloutOptions(context: CommandContext) {
  const timeoutMs = timeoutFlag(context.flags.timeout);
  return { ...(timeoutMs ? { timeoutMs } : {}), ...(context.flags.json ? {} : { emit: progress(context.output) }) };
}

const RELEASE_USAGE = 'berth release <service> --env <first env> [--image <digest|tag>] [--force] [--timeout 120s] [--detach] [--json]';
export const releaseCommand: Command = {
  name: 'release',
  summary: "numbers the current build and settings of a service as a release and rolls it out to the pipeline's first environment",
  usage: RELEASE_USAGE,
  options: { ...common, env: { type: 'string', short: 'e' }, image: { type: 'string' }, force: { type: 'boolean' } },
  run: (context) => {
    const service = serviceArg(context, RELEASE_USAGE);
    const env = requiredFlag(context.flags.env, '--env', RELEASE_USAGE);
    const request: ReleaseRequest = { environment: env, force: context.flags.force === true };
    return remoteOr(
      context,
      async (client) => viaServer(context, `/v1/services/${encodeURIComponent(service)}/releases`, { ...request, ...(await imageForServer(context, service)) })(client),
      () =>
        withRun(context, async (run) =>
          finish(context, await release(run, service, { ...request, ...(typeof context.flags.image === 'string' ? { image: context.flags.image } : {}) }, rolloutOptions(context))),
        ),
    );
  },
};

const PROMOTE_USAGE = 'berth promote <service> --to <env> [--from <env>] [--canary 10% [--manual] [--watch 30s]] [--force] [--json]';
export const promoteCommand: Command = {
  name: 'promote',
  summary: 'moves the release one environment runs (same digest, same settings) to the next, rolling or as a canary',
  usage: PROMOTE_USAGE,
  options: { ...common, to: { type: 'string' }, from: { type: 'string' }, canary: { type: 'string' }, manual: { type: 'boolean' }, watch: { type: 'string' }, force: { type: 'boolean' } },
  run: (context) => {
    const { flags, output } = context;
    const service = serviceArg(context, PROMOTE_USAGE);
    const to = requiredFlag(flags.to, '--to', PROMOTE_USAGE);
    const canary = typeof flags.canary === 'string' ? parseShare(flags.canary) : undefined;
    const watchMs = durationFlag(flags.watch, '--watch');
    const request: PromoteRequest = {
      to,
      ...(typeof flags.from === 'string' ? { from: flags.from } : {}),
      ...(canary !== undefined ? { canary } : {}),
      ...(watchMs !== undefined ? { watchMs } : {}),
      manual: flags.manual === true,
      force: flags.force === true,
    };
    return remoteOr(context, viaServer(context, `/v1/services/${encodeURIComponent(service)}/promotions`, request), () =>
      withRun(context, async (run) => finish(context, await promote(run, service, request, { ...rolloutOptions(context), onCanary: (text) => output.out(text) }))),
    );
  },
};

const ROLLBACK_USAGE = 'berth rollback <service> --env <env> [--to <release> [--force]] [--json]';
export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'rolls an environment back to the release it ran before (or --to a release it ran; --force for one it never ran)',
  usage: ROLLBACK_USAGE,
  options: { ...common, env: { type: 'string', short: 'e' }, to: { type: 'string' }, force: { type: 'boolean' } },
  run: (context) => {
    const service = serviceArg(context, ROLLBACK_USAGE);
    const env = requiredFlag(context.flags.env, '--env', ROLLBACK_USAGE);
    const to = positiveFlag(context.flags.to, '--to');
    const request: RollbackRequest = { environment: env, force: context.flags.force === true, ...(to !== undefined ? { to } : {}) };
    return remoteOr(context, viaServer(context, `/v1/services/${encodeURIComponent(service)}/rollbacks`, request), () =>
      withRun(context, async (run) => finish(context, await rollback(run, service, request, rolloutOptions(context)))),
    );
  },
};

const SCALE_USAGE = 'berth scale <service>=<N> --env <env> [--force (to scale to 0)] [--json]';
export const scaleCommand: Command = {
  name: 'scale',
  summary: 'sets the number of instances; existing ones keep their addresses, removed ones are drained first',
  usage: SCALE_USAGE,
  options: { ...common, env: { type: 'string', short: 'e' }, force: { type: 'boolean' } },
  run: (context) => {
    const [arg, ...extra] = context.positionals;
    const match = arg === undefined || extra.length > 0 ? null : /^([a-z0-9][a-z0-9-]*)=(\d+)$/.exec(arg);
    if (!match) throw invalid(`expected <service>=<N>, got "${context.positionals.join(' ')}"`, { fix: `usage: ${SCALE_USAGE}` });
    const env = requiredFlag(context.flags.env, '--env', SCALE_USAGE);
    const service = match[1]!;
    const request: ScaleRequest = { environment: env, replicas: Number(match[2]), force: context.flags.force === true };
    return remoteOr(context, viaServer(context, `/v1/services/${encodeURIComponent(service)}/scale`, request), () =>
      withRun(context, async (run) => finish(context, await scale(run, service, request, rolloutOptions(context)))),
    );
  },
};

const CANARY_USAGE = 'berth canary promote|abort <service> --env <env> [--json]';
export const canaryCommand: Command = {
  name: 'canary',
  summary: 'decides an open canary by hand: promote (rolling to 100%) or abort (canary removed, weights restored)',
  usage: CANARY_USAGE,
  options: { ...common, env: { type: 'string', short: 'e' } },
  run: (context) => {
    const [action, service, ...extra] = context.positionals;
    if ((action !== 'promote' && action !== 'abort') || service === undefined || extra.length > 0) throw invalid('name promote or abort, and one service', { fix: `usage: ${CANARY_USAGE}` });
    const env = requiredFlag(context.flags.env, '--env', CANARY_USAGE);
    const request: CanaryRequest = { environment: env };
    return remoteOr(context, viaServer(context, `/v1/services/${encodeURIComponent(service)}/canary/${action}`, request, action === 'abort'), () =>
      withRun(context, async (run) => finish(context, await decideCanary(run, service, action, request, rolloutOptions(context)), action === 'abort')),
    );
  },
};
