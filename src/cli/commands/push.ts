import { invalid } from '../../errors.js';
import { DEFAULT_RETRY_MS, pushProject, type PushEvent, type PushSummary } from '../../registry/push.js';
import { withWorkspace, type Command } from '../command.js';
import { formatBytes, formatDuration, printJson, type Output } from '../output.js';

export const pushCommand: Command = {
  name: 'push',
  summary: 'push the current builds of the hierarchy to the registry, parents first; unchanged images upload nothing',
  usage: 'berth push [image...] [--json] [--concurrency N] [--wait SECONDS]',
  options: {
    json: { type: 'boolean' },
    concurrency: { type: 'string' },
    wait: { type: 'string' },
  },
  run: (context) =>
    withWorkspace(context, async ({ project, engine, db }) => {
      const { flags, output } = context;
      for (const name of context.positionals) {
        if (!project.images.has(name)) throw invalid(`unknown image "${name}"`, { fix: `name one of: ${[...project.images.keys()].join(', ')}` });
      }
      const concurrency = positive(flags.concurrency, '--concurrency');
      const wait = positive(flags.wait, '--wait');
      const progress = flags.json ? undefined : pushProgress(output);
      const summary = await pushProject(project, engine, db, context.env, {
        only: context.positionals,
        ...(concurrency ? { concurrency } : {}),
        retryForMs: wait ? wait * 1000 : DEFAULT_RETRY_MS,
        ...(progress ? { onEvent: progress } : {}),
      });
      if (flags.json) printJson(output, summary);
      else printSummary(output, summary);
      return summary.failed.length > 0 ? 1 : 0;
    }),
};

function positive(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw invalid(`${flag} must be a whole number above 0, got "${String(value)}"`);
  return n;
}

/** Plain lines: one when an image starts, one when it ends, and a progress line at most every 5 s per image. */
function pushProgress(output: Output): (event: PushEvent) => void {
  const lastProgress = new Map<string, number>();
  const bytes = new Map<string, Map<string, { current: number; total: number }>>();
  return (event) => {
    switch (event.type) {
      case 'skip':
        output.out(`✓ ${event.image}: already in the registry (${event.digest.slice(0, 19)})`);
        break;
      case 'start':
        output.out(`→ ${event.image}: pushing ${event.ref}`);
        lastProgress.set(event.image, Date.now());
        break;
      case 'progress': {
        if (event.status !== 'Pushing' || event.total === undefined) break;
        const layers = bytes.get(event.image) ?? new Map();
        layers.set(event.layer, { current: event.current ?? 0, total: event.total });
        bytes.set(event.image, layers);
        if (Date.now() - (lastProgress.get(event.image) ?? 0) < 5000) break;
        lastProgress.set(event.image, Date.now());
        const sum = [...layers.values()].reduce((a, l) => ({ current: a.current + l.current, total: a.total + l.total }), { current: 0, total: 0 });
        output.out(`  ${event.image}: ${formatBytes(sum.current)} of ${formatBytes(sum.total)} uploaded`);
        break;
      }
      case 'wait':
        output.err(`  ${event.image}: waiting: ${event.reason}`);
        break;
      case 'done': {
        const p = event.pushed;
        output.out(`✓ ${event.image}: pushed ${p.digest.slice(0, 19)} in ${formatDuration(p.durationMs)}: ${p.uploaded} layer(s) uploaded (${formatBytes(p.uploadedBytes)} of layer data), ${p.existing} already there`);
        break;
      }
      case 'fail':
        output.err(`✘ ${event.image}: ${event.error.message}`);
        break;
      case 'blocked':
        output.err(`- ${event.image}: not pushed because ${event.because} failed`);
        break;
      default:
        break;
    }
  };
}

function printSummary(output: Output, summary: PushSummary): void {
  const time = formatDuration(summary.durationMs);
  if (summary.failed.length === 0) {
    output.out(`pushed ${summary.pushed.length}, already in the registry ${summary.upToDate.length}, to ${summary.registry} in ${time}`);
    return;
  }
  output.err(`push failed: ${summary.failed.length} image(s) failed, ${summary.blocked.length} not pushed because of it; pushed ${summary.pushed.length}, already there ${summary.upToDate.length}, in ${time}`);
  const fixes = [...new Set(summary.failed.map((f) => f.fix).filter((f): f is string => f !== null))];
  for (const fix of fixes) output.err(`  fix: ${fix}`);
}
