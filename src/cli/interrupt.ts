/**
 * Ctrl-C (or SIGTERM) during a command that changes instances: the rollout it
 * ran stays in the journal, so the way out says where it stopped and which
 * command resumes or abandons it. A hang-up (SIGHUP) never stops a rollout.
 */
import { thisProcess } from '../rollout/lease.js';
import type { RolloutPlan } from '../rollout/rollout-plan.js';
import type { Store } from '../store/db.js';
import { leasesHeldBy } from '../store/leases.js';
import { rolloutById, type Rollout } from '../store/releases.js';
import type { Output } from './output.js';

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

function describe(step: RolloutPlan['steps'][number] | undefined): string {
  if (!step) return 'its last step';
  if ('slots' in step) return `${step.op} ${step.slots.join(', ')}`;
  return step.op === 'converge' ? `converge on ${step.replicas} instance(s)` : step.op;
}

/** What the user reads on stderr when a signal stops the rollout `rollout` (pure: from its journal). */
export function interruptedLines(signal: string, rollout: Rollout, projectFlag: string): string[] {
  const plan = JSON.parse(rollout.plan) as RolloutPlan;
  const what = `rollout #${rollout.id} (${rollout.kind} of ${rollout.service} release ${rollout.release} in ${rollout.environment})`;
  if (rollout.status === 'canary') {
    return [
      `berth: ${signal}: ${what} is an open canary; it stays as it is.`,
      `  decide it: berth canary promote ${rollout.service} --env ${rollout.environment}${projectFlag}, or berth canary abort ${rollout.service} --env ${rollout.environment}${projectFlag}`,
    ];
  }
  const total = plan.steps.length;
  const phase = plan.phase === 'rollback' ? `, rolling back to release ${plan.target}` : '';
  return [
    `berth: ${signal}: ${what} stopped at step ${Math.min(rollout.done + 1, total)} of ${total} (${describe(plan.steps[rollout.done])})${phase}; ${rollout.done} step(s) done.`,
    '  An instance being replaced may be set aside as <project>.<slot>-prev (berth ps shows it as set-aside) until the rollout resumes or is abandoned.',
    `  resume it: run the same command again (any rollout of ${rollout.service} in ${rollout.environment} resumes it first, from step ${rollout.done + 1})`,
    `  or abandon it: berth rollout abandon ${rollout.id}${projectFlag} (puts back what ran, ends the rollout, releases its lock)`,
  ];
}

/** While `use` runs, a signal prints where this process's rollouts stopped and exits with 128 + the signal. */
export async function withInterruptNotice<T>(db: Store, output: Output, projectFlag: string, use: () => Promise<T>): Promise<T> {
  const onSignal = async (signal: NodeJS.Signals) => {
    try {
      const held = await leasesHeldBy(db, thisProcess.holder);
      const rollouts = await Promise.all(held.map((l) => (l.rollout > 0 ? rolloutById(db, l.rollout) : undefined)));
      for (const r of rollouts) if (r && (r.status === 'running' || r.status === 'canary')) for (const line of interruptedLines(signal, r, projectFlag)) output.err(line);
      if (held.length > 0 && rollouts.every((r) => r === undefined)) output.err(`berth: ${signal}: stopped before a rollout was recorded; no instance was changed`);
    } finally {
      process.exit(SIGNAL_EXIT[signal] ?? 1);
    }
  };
  // The terminal went away (SSH dropped, window closed): a rollout in progress goes on to its end, only its output is lost.
  const onHangup = async () => {
    if ((await leasesHeldBy(db, thisProcess.holder)).length === 0) process.exit(129);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    return await use();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHangup);
  }
}
