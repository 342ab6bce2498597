/**
 * Sweeps what interrupted test runs left: every /tmp/berth-t-* folder whose
 * owner process is gone goes, with its project's containers, images, networks,
 * front doors, registries, bridges and namespaces. A folder whose owner runs is
 * never touched. Run by each test process before its first fixture, by
 * `npm test`, and by hand: `node dist/src/testing/sweep.js [--legacy] [--dry-run]`.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectEngine } from '../engine/client.js';
import { dirInUse, listProcesses, ownerAlive, readMade, readOwner, removeLeftovers } from './leftovers.js';
import { planSweep, processesNaming, testProjectOf, type FoundDir, type SweepPlan } from './sweep-plan.js';

export interface SweepOptions {
  /** Also sweep folders without an owner file (made before owner files existed) that no process works in. */
  legacy?: boolean;
  dryRun?: boolean;
  /** Where the test folders are; the system's temp folder unless a test says otherwise. */
  root?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SweepReport extends SweepPlan {
  failures: string[];
}

export function findTestDirs(root: string, legacy: boolean): FoundDir[] {
  const found: FoundDir[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const processes = legacy ? listProcesses() : [];
  for (const name of names) {
    const dir = join(root, name);
    if (!testProjectOf(dir)) continue;
    const owner = readOwner(dir);
    const entry: FoundDir = { dir, owner, made: readMade(dir) };
    // The processes a sweep would stop do not make a folder in use; anything else in it might be a live run.
    if (legacy && owner === 'none') entry.inUse = dirInUse(dir, processesNaming(dir, processes, process.pid));
    found.push(entry);
  }
  return found;
}

export async function sweepInterrupted(options: SweepOptions = {}): Promise<SweepReport> {
  const plan = planSweep(findTestDirs(options.root ?? tmpdir(), options.legacy ?? false), ownerAlive, { legacy: options.legacy ?? false });
  const failures: string[] = [];
  if (options.dryRun || plan.sweep.length === 0) return { ...plan, failures };
  const engine = connectEngine(options.env ?? process.env);
  for (const target of plan.sweep) {
    for (const failure of await removeLeftovers(engine, target.project, target.dir)) failures.push(`${target.dir}: ${failure}`);
  }
  return { ...plan, failures };
}

let once: Promise<SweepReport> | undefined;

/** The sweep a test process runs once, before its first fixture; a failure is reported, never fatal to the tests. */
export function sweepOnce(): Promise<SweepReport> {
  once ??= sweepInterrupted().then((report) => {
    for (const failure of report.failures) process.stderr.write(`sweep of interrupted test runs: ${failure}\n`);
    return report;
  });
  return once;
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !['--legacy', '--dry-run', '--json'].includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`error: unknown option ${unknown[0]}\n  fix: node dist/src/testing/sweep.js [--legacy] [--dry-run] [--json]\n`);
    return 2;
  }
  const report = await sweepInterrupted({ legacy: argv.includes('--legacy'), dryRun: argv.includes('--dry-run') });
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const verb = argv.includes('--dry-run') ? 'would sweep' : 'swept';
    for (const target of report.sweep) process.stdout.write(`${verb} ${target.dir} (${target.project}): ${target.why}\n`);
    for (const kept of report.keep) process.stdout.write(`kept ${kept.dir}: ${kept.why}\n`);
    for (const failure of report.failures) process.stderr.write(`failed: ${failure}\n`);
  }
  return report.failures.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
