import { statusOf, type ProjectStatus } from '../../reconcile/status.js';
import type { Command } from '../command.js';
import { printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';
import { remoteOr } from '../remote.js';

export const statusCommand: Command = {
  name: 'status',
  summary: "each service × environment that runs a release: release, replicas, running, healthy, and its drift (what the reconciler fixes, and what it only reports)",
  usage: 'berth status [--json]',
  options: { json: { type: 'boolean' } },
  run: (context) =>
    remoteOr(context, (client) => client.get<ProjectStatus>('/v1/status'), () => withRun(context, (run) => statusOf(run))).then((status) => {
      if (context.flags.json) printJson(context.output, status);
      else for (const line of statusLines(status)) context.output.out(line);
      // Drift is what status reports, not a failure of the command.
      return 0;
    }),
};

export function statusLines(status: ProjectStatus): string[] {
  if (status.environments.length === 0 && status.drift.length === 0) return ['nothing runs yet: release a service with "berth release <service> --env <env>"'];
  const lines: string[] = [];
  if (status.environments.length > 0) {
    const rows = status.environments.map((e) => [e.service, e.environment, String(e.release), String(e.replicas), String(e.running), String(e.healthy), e.drift.length === 0 ? 'none' : String(e.drift.length)]);
    lines.push(table([['SERVICE', 'ENV', 'RELEASE', 'REPLICAS', 'RUNNING', 'HEALTHY', 'DRIFT'], ...rows]));
  }
  if (status.drift.length === 0) lines.push('no drift: everything runs as released');
  for (const d of status.drift) lines.push(`drift (${d.kind}): ${d.message}`);
  return lines;
}
