import type { DeployEvent, DeployResult } from '../../release/deploy.js';
import { deploy, type DeployRequest } from '../../requests/deploy.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { positiveFlag, requiredFlag, timeoutFlag } from '../flags.js';
import { formatDuration, printJson, type Output } from '../output.js';
import { withRun } from '../run-workspace.js';
import { imageForServer, remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
import { ROLLOUT_START_TIMEOUT_MS, type ServerClient } from '../../remote/client.js';

const USAGE = 'berth deploy <service> --env <env> [--image <digest|tag>] [--timeout 120s] [--force] [--concurrency N] [--detach] [--json]';

export const deployCommand: Command = {
  name: 'deploy',
  summary: "create or replace a service's instances in an environment and wait until they are healthy",
  usage: USAGE,
  options: {
    env: { type: 'string', short: 'e' },
    image: { type: 'string' },
    timeout: { type: 'string' },
    force: { type: 'boolean' },
    concurrency: { type: 'string' },
    json: { type: 'boolean' },
    detach: { type: 'boolean' },
  },
  run: (context) => {
    const { flags, output } = context;
    const [service, ...extra] = context.positionals;
    if (service === undefined || extra.length > 0) throw invalid('name exactly one service to deploy', { fix: `usage: ${USAGE}` });
    const environment = requiredFlag(flags.env, '--env', USAGE);
    const timeoutMs = timeoutFlag(flags.timeout);
    const concurrency = positiveFlag(flags.concurrency, '--concurrency');
    const show = (result: DeployResult): number => {
      if (flags.json) printJson(output, result);
      else printResult(output, result);
      return 0;
    };
    const request: DeployRequest = { environment, force: flags.force === true, ...(timeoutMs ? { timeoutMs } : {}), ...(concurrency ? { concurrency } : {}) };
    const remote = async (client: ServerClient): Promise<number> => {
      const answer = await client.post<RolloutAnswer<DeployResult>>(`/v1/services/${encodeURIComponent(service)}/deployments`, { ...request, ...(await imageForServer(context, service)) }, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
      return serverRollout<DeployResult, DeployEvent>(context, client, answer, show, progress(output));
    };
    return remoteOr(context, remote, () => withRun(context, async (run) =>
      show(await deploy(run, service, { ...request, ...(typeof flags.image === 'string' ? { image: flags.image } : {}) }, flags.json ? {} : { onEvent: progress(output) })),
    ));
  },
};

export function progress(output: Output): (event: DeployEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'note':
        output.out(event.text);
        break;
      case 'plan':
        output.out(`image ${event.image.name} ${event.image.digest.slice(0, 19)} (release ${event.release}) on network ${event.network}`);
        for (const s of event.steps) output.out(`  ${s.action.padEnd(7)} ${s.slot} on ${s.host}: ${s.reason}`);
        break;
      case 'launch':
        output.out(`→ ${event.slot}: ${event.action === 'create' ? 'starting' : 'replacing'}`);
        break;
      case 'ready':
        output.out(`✓ ${event.instance.slot}: healthy in ${formatDuration(event.ms)}${where(event.instance)}`);
        break;
      case 'failed':
        output.err(`✘ ${event.slot}: ${event.reason}`);
        break;
      case 'undo':
        output.err(`↺ ${event.slot}: ${event.what}`);
        break;
      case 'removed':
        output.out(`- ${event.slot}: removed (${event.reason})`);
        break;
    }
  };
}

function where(i: DeployResult['instances'][number]): string {
  const ports = Object.entries(i.ports).map(([c, h]) => `${h}→${c}`);
  return [i.ip ? ` at ${i.ip}` : '', i.mac ? ` (${i.mac})` : '', ports.length > 0 ? ` ports ${ports.join(', ')}` : ''].join('');
}

function printResult(output: Output, r: DeployResult): void {
  output.out(`deployed ${r.service} release ${r.release} to ${r.environment} (rollout #${r.deployment}) in ${formatDuration(r.durationMs)}: ${r.instances.length} instance(s) healthy`);
  for (const i of r.instances) output.out(`  ${i.slot} on ${i.host}${where(i)}`);
}
