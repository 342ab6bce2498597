import { buildProject, planProject, type BuildSummary } from '../../imaging/builder.js';
import type { PlanEntry } from '../../imaging/plan.js';
import { invalid } from '../../errors.js';
import { buildProgress } from '../build-progress.js';
import { withWorkspace, type Command } from '../command.js';
import { formatDuration, printJson, table, type Output } from '../output.js';

export const buildCommand: Command = {
  name: 'build',
  summary: 'build the image hierarchy: changed images and their descendants, parents first',
  usage: 'berth build [image...] [--plan] [--json] [--concurrency N]',
  options: {
    plan: { type: 'boolean' },
    json: { type: 'boolean' },
    concurrency: { type: 'string' },
  },
  run: (context) =>
    withWorkspace(context, async ({ project, engine, db }) => {
      const { flags, output } = context;
      for (const name of context.positionals) {
        if (!project.images.has(name)) throw invalid(`unknown image "${name}"`, { fix: `name one of: ${[...project.images.keys()].join(', ')}` });
      }
      if (flags.plan) {
        const entries = await planProject(project, engine, db, context.positionals);
        if (flags.json) printJson(output, { images: entries.map(({ name, parent, key, action, reason }) => ({ name, parent, key, action, reason })) });
        else printPlan(output, entries);
        return 0;
      }
      const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
      if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
        throw invalid(`--concurrency must be a whole number above 0, got "${String(flags.concurrency)}"`);
      }
      const progress = flags.json ? undefined : buildProgress(output, Boolean(flags.verbose));
      const summary = await buildProject(project, engine, db, {
        only: context.positionals,
        env: context.env,
        ...(concurrency ? { concurrency } : {}),
        ...(progress ? { onEvent: (e) => progress.onEvent(e) } : {}),
      }).finally(() => progress?.finish());
      if (flags.json) printJson(output, summary);
      else printSummary(output, summary);
      return summary.failed.length > 0 ? 1 : 0;
    }),
};

function printPlan(output: Output, entries: PlanEntry[]): void {
  const rows = entries.map((e) => [e.name, e.parent ?? '(root)', e.key ? e.key.slice(0, 12) : '(pending)', e.action, e.reason]);
  output.out(table([['IMAGE', 'PARENT', 'KEY', 'ACTION', 'REASON'], ...rows]));
}

function printSummary(output: Output, summary: BuildSummary): void {
  const time = formatDuration(summary.durationMs);
  if (summary.failed.length === 0) {
    output.out(`built ${summary.built.length}, up to date ${summary.upToDate.length}, in ${time}`);
    return;
  }
  output.err(`build failed: ${summary.failed.length} image(s) failed, ${summary.blocked.length} skipped because of it; built ${summary.built.length}, up to date ${summary.upToDate.length}, in ${time}`);
  for (const failure of summary.failed) {
    output.err(`  ✘ ${failure.message}`);
    if (failure.tail.length > 0) {
      output.err('    last output:');
      for (const line of failure.tail) output.err(`    | ${line}`);
    }
    const skipped = summary.blocked.filter((b) => b.because === failure.image).map((b) => b.image);
    if (skipped.length > 0) output.err(`    skipped because of it: ${skipped.join(', ')}`);
  }
  output.err('  fix: correct the failing script and run "berth build" again; images that succeeded are kept and will be skipped');
}
