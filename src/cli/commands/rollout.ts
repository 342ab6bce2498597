/** berth rollout ls | show <id> | abandon <id>: the rollouts still open, one rollout's journal, and ending an interrupted one. */
import { holderAlive } from '../../release/lease.js';
import { abandonRollout } from '../../release/abandon.js';
import type { RolloutPlan } from '../../release/rollout-plan.js';
import { invalid, notFound } from '../../errors.js';
import { leaseOf } from '../../store/leases.js';
import { openRollouts, rolloutById, type Rollout } from '../../store/releases.js';
import type { Db } from '../../store/db.js';
import type { Command, CommandContext } from '../command.js';
import { positiveFlag } from '../flags.js';
import { printJson, table } from '../output.js';
import { withRun } from '../run-workspace.js';
import { progress } from './release.js';

const USAGE = 'berth rollout ls | show <id> | abandon <id> [--json]';

/** A rollout with its journal as data, and whether the process that runs it is alive. */
function view(db: Db, r: Rollout) {
  const plan = JSON.parse(r.plan) as RolloutPlan;
  const lease = leaseOf(db, r.service, r.environment);
  const holder = lease && lease.rollout === r.id ? { pid: lease.pid, hostname: lease.hostname, alive: holderAlive(lease), token: lease.token, expiresAt: new Date(lease.expiresAt).toISOString() } : null;
  const state = r.status === 'running' ? (holder?.alive ? 'running' : 'interrupted') : r.status;
  return { id: r.id, service: r.service, environment: r.environment, kind: r.kind, release: r.release, previous: r.previous, status: r.status, state, done: r.done, steps: plan.steps, phase: plan.phase, holder, actor: r.actor, message: r.message, startedAt: new Date(r.startedAt).toISOString() };
}

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
    if (action === 'ls' && rest.length === 0) {
      return withRun(context, async (run) => {
        const rows = openRollouts(run.db).map((r) => view(run.db, r));
        if (flags.json) printJson(output, { rollouts: rows });
        else if (rows.length === 0) output.out('no open rollouts');
        else output.out(table([['#', 'SERVICE', 'ENV', 'KIND', 'RELEASE', 'STATE', 'STEP', 'BY'], ...rows.map((r) => [String(r.id), r.service, r.environment, r.kind, String(r.release), r.state, `${r.done}/${r.steps.length}`, r.actor])]));
        return 0;
      });
    }
    if (action === 'show') {
      const id = idArg(context, rest);
      return withRun(context, async (run) => {
        const r = rolloutById(run.db, id);
        if (!r) throw notFound(`rollout #${id} does not exist`, { fix: 'list the open ones with: berth rollout ls' });
        const v = view(run.db, r);
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
      return withRun(context, async (run) => {
        const result = await abandonRollout(run, id, flags.json ? {} : { emit: progress(output) });
        if (flags.json) printJson(output, result);
        else output.out(`rollout #${result.rollout} of ${result.service} in ${result.environment}: ${result.message}; running: ${result.running.join(', ') || 'none'}`);
        return 0;
      });
    }
    throw invalid(`unknown rollout action "${action ?? ''}"`, { fix: `usage: ${USAGE}` });
  },
};


