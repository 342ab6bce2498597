/** berth rollout ls | show <id> | abandon <id>: the rollouts still open, one rollout's journal, and ending an interrupted one. */
import { abandonRollout, type AbandonResult } from '../../rollout/abandon.js';
import { followToEnd, remoteOr, requireServer } from '../remote.js';
import { rolloutView as view, type RolloutView } from '../../rollout/rollout-view.js';
import { invalid } from '../../errors.js';
import { findRollout, openRolloutViews } from '../../release/rollout-lookup.js';
import type { Command, CommandContext } from '../command.js';
import { positiveFlag } from '../flags.js';
import { printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';
import { finish, progress } from './release.js';

const USAGE = 'berth rollout ls | show <id> | abandon <id> | follow <id> | cancel <id> [--json]';

function idArg(context: CommandContext, rest: string[]): number {
  if (rest.length !== 1) throw invalid('name one rollout by its number', { fix: `usage: ${USAGE} (berth rollout ls lists them)` });
  return positiveFlag(rest[0], 'the rollout number')!;
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'the rollouts still open (ls), one rollout and its steps (show), or ending an interrupted one and converging on what runs (abandon)',
  usage: USAGE,
  options: { json: { type: 'boolean' } },
  run: (context) => {
    const [action, ...rest] = context.positionals;
    const { output, flags } = context;
    if (action === 'follow' || action === 'cancel') {
      const id = idArg(context, rest);
      const client = requireServer(context, `rollout ${action}`);
      if (action === 'cancel') {
        return client
          .post(`/v1/rollouts/${id}/cancel`)
          .then(() => {
            output.out(`rollout #${id}: cancel asked; it stops before its next step and rolls back (follow it: berth rollout follow ${id})`);
            return 0;
          })
          .finally(() => client.close());
      }
      return followToEnd(output, client, id, (result) => finish(context, result), flags.json ? () => {} : progress(output)).finally(() => client.close());
    }
    if (action === 'ls' && rest.length === 0) {
      return remoteOr(context, async (client) => (await client.get<{ rollouts: RolloutView[] }>('/v1/rollouts')).rollouts, () => withRun(context, (run) => openRolloutViews(run.db))).then((rows) => {
        if (flags.json) printJson(output, { rollouts: rows });
        else if (rows.length === 0) output.out('no open rollouts');
        else output.out(table([['#', 'SERVICE', 'ENV', 'KIND', 'RELEASE', 'STATE', 'STEP', 'BY'], ...rows.map((r) => [String(r.id), r.service, r.environment, r.kind, String(r.release), r.state, `${r.done}/${r.steps.length}`, r.actor])]));
        return 0;
      });
    }
    if (action === 'show') {
      const id = idArg(context, rest);
      return remoteOr(
        context,
        (client) => client.get<RolloutView>(`/v1/rollouts/${id}`),
        () =>
          withRun(context, async (run) => await view(run.db, await findRollout(run.db, id))),
      ).then((v) => {
        if (flags.json) {
          printJson(output, v);
          return 0;
        }
        output.out(`rollout #${v.id}: ${v.kind} of ${v.service} release ${v.release} in ${v.environment}, ${v.state}${v.phase === 'rollback' ? ' (rolling back)' : ''}, by ${v.actor}, started ${v.startedAt}`);
        v.steps.forEach((s, i) => output.out(`  ${i < v.done ? '✓' : ' '} ${i + 1}. ${s.op}${'slots' in s ? ` ${s.slots.join(', ')}` : s.op === 'converge' ? ` ${s.replicas}` : ''}`));
        if (v.message) output.out(`  ${v.message}`);
        return 0;
      });
    }
    if (action === 'abandon') {
      const id = idArg(context, rest);
      return remoteOr(context, (client) => client.post<AbandonResult>(`/v1/rollouts/${id}/abandon`), () => withRun(context, (run) => abandonRollout(run, id, flags.json ? {} : { emit: progress(output) }))).then((result) => {
        if (flags.json) printJson(output, result);
        else output.out(`rollout #${result.rollout} of ${result.service} in ${result.environment}: ${result.message}; running: ${result.running.join(', ') || 'none'}`);
        return 0;
      });
    }
    throw invalid(`unknown rollout action "${action ?? ''}"`, { fix: `usage: ${USAGE}` });
  },
};



