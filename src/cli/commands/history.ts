import { history } from '../../release/operations.js';
import type { CanaryEvidence } from '../../release/canary-gate.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';
import { remoteOr } from '../remote.js';

type History = Awaited<ReturnType<typeof history>>;

export const historyCommand: Command = {
  name: 'history',
  summary: "a service's releases and every rollout per environment: who, when, digest, outcome",
  usage: 'berth history <service> [--env <env>] [--json]',
  options: { env: { type: 'string', short: 'e' }, json: { type: 'boolean' } },
  run: (context) => {
    const [service, ...extra] = context.positionals;
    if (service === undefined || extra.length > 0) throw invalid('name one service', { fix: 'usage: berth history <service> [--env <env>] [--json]' });
    const env = typeof context.flags.env === 'string' ? context.flags.env : undefined;
    return remoteOr(
      context,
      async (client) => {
        const [result, config] = await Promise.all([client.get<History>(`/v1/services/${encodeURIComponent(service)}/history`, { env }), client.get<{ pipeline: string[] }>('/v1/project')]);
        return show(result, config.pipeline[0] ?? 'dev');
      },
      () => withRun(context, async (run) => show(await history(run, service, env), run.project.pipeline[0]!)),
    );

    function show(result: History, first: string): number {
      if (context.flags.json) {
        printJson(context.output, result);
        return 0;
      }
      if (result.rollouts.length === 0) {
        context.output.out(`no releases of ${service} yet: berth release ${service} --env ${first}`);
        return 0;
      }
      const rows = result.rollouts.map((r) => [
        String(r.rollout),
        r.environment,
        String(r.release),
        r.digest.replace('sha256:', '').slice(0, 12),
        r.kind + (r.forced ? ' (forced)' : ''),
        r.status,
        r.by,
        r.startedAt.replace('T', ' ').slice(0, 19),
        r.message,
      ]);
      context.output.out(table([['#', 'ENV', 'RELEASE', 'DIGEST', 'KIND', 'OUTCOME', 'BY', 'STARTED', 'NOTE'], ...rows]));
      const gates = result.rollouts.flatMap((r) => gateLines(r.rollout, r.evidence));
      if (gates.length > 0) context.output.out(['', 'gates:', ...gates].join('\n'));
      return 0;
    }
  },
};

/** A line or two per canary decision: what decided it, the rates of canary and baseline, the probes. */
function gateLines(rollout: number, evidence: Record<string, unknown>): string[] {
  if (evidence.gate === 'manual') return [`#${rollout} canary: ${String(evidence.reason)} (${String(evidence.by)})`];
  if (evidence.gate !== 'canary') return [];
  const e = evidence as unknown as CanaryEvidence;
  const probes = e.instances.map((i) => `${i.slot} ${i.passed} passed, ${i.failed} failed${i.inconclusive > 0 ? `, ${i.inconclusive} inconclusive` : ''}${i.crashed ? ` (${i.crashed})` : ''}`);
  const reads = e.inconclusiveReads.counters > 0 ? `; counter reads inconclusive: ${e.inconclusiveReads.counters}` : '';
  return [`#${rollout} canary ${e.decision === 'promote' ? 'promoted' : 'aborted'} by its gates: ${e.reason}`, `    probes: ${probes.join('; ') || 'none (no health check)'}${reads}`];
}
