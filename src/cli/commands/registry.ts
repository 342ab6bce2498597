import { readFileSync } from 'node:fs';
import { invalid, notFound } from '../../errors.js';
import { describeStorage } from '../../registry/config.js';
import { collectGarbage, type GcReport } from '../../registry/gc.js';
import { registryDown, registryStatus, registryTarget, registryUp, type RegistryStatus } from '../../registry/process.js';
import { loadProject } from '../../config/project.js';
import { ROLLOUT_START_TIMEOUT_MS } from '../../remote/client.js';
import { remoteOr, serverRollout, type RolloutAnswer } from '../remote.js';
import { withWorkspace, type Command, type CommandContext } from '../command.js';
import { formatBytes, formatDuration, printJson, table, type Output } from '../output.js';

const ACTIONS = ['up', 'down', 'status', 'ca', 'gc'] as const;

export const registryCommand: Command = {
  name: 'registry',
  summary: "Berth's embedded registry: up, down, status, ca (the CA PEM hosts must trust), and gc (garbage collection from Berth's reference database)",
  usage: 'berth registry up|down|status [--json] | berth registry ca | berth registry gc [--dry-run] [--json]',
  options: { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  run: async (context) => {
    const [action, ...extra] = context.positionals;
    if (!ACTIONS.includes(action as (typeof ACTIONS)[number]) || extra.length > 0) {
      throw invalid(action === undefined ? 'berth registry: name an action' : `berth registry: unknown action "${[action, ...extra].join(' ')}"`, { fix: `usage: ${registryCommand.usage}` });
    }
    if (context.flags['dry-run'] && action !== 'gc') throw invalid('--dry-run applies to "berth registry gc" only');
    if (action === 'gc') return gc(context);
    // up, down and status need neither the engine nor the store.
    const project = loadProject(context.flags.project as string | undefined, context.env, context.cwd);
    // The CA needs no password (the target reads it).
    if (action === 'ca') {
      const tls = project.registry.tls;
      if (!tls) throw notFound('the registry serves no TLS, so it has no CA', { fix: 'listen on an address other machines reach (with htpasswd, username and password), or set registry.tls: generate in berth.yaml' });
      const ca = tls.ca ?? tls.cert;
      try {
        context.output.out(readFileSync(ca, 'utf8').trimEnd());
      } catch {
        throw notFound(`the registry's CA ${ca} does not exist yet`, { fix: tls.generated ? 'run "berth registry up" once: it makes the CA' : 'correct registry.tls.ca in berth.yaml' });
      }
      return 0;
    }
    const target = registryTarget(project, context.env);
    const { output, flags } = context;
    if (action === 'up') {
      const up = await registryUp(target);
      if (flags.json) printJson(output, await registryStatus(target));
      else {
        output.out(`${up.started ? 'started' : 'already running:'} registry at ${up.address} (pid ${up.pid}, ${describeStorage(project.registry)}, log ${target.paths.log})`);
        if (up.trust) output.out(up.trust.installed ? `this machine's engines trust its CA (${up.trust.path}); other hosts need it too: berth registry ca` : `warning: this machine's engines do not trust its CA: ${up.trust.problem}; as root: berth registry ca > ${up.trust.path}`);
      }
      return 0;
    }
    if (action === 'down') {
      const stopped = await registryDown(target);
      if (flags.json) printJson(output, { stopped });
      else output.out(stopped ? `stopped the registry at ${target.address}` : 'the registry was not running');
      return 0;
    }
    const status = await registryStatus(target);
    if (flags.json) printJson(output, status);
    else printStatus(output, status);
    return status.running && status.healthy && status.mode === 'writable' ? 0 : 5;
  },
};

function printStatus(output: Output, s: RegistryStatus): void {
  const health = !s.running ? 'stopped' : s.healthy ? `healthy, ${s.mode}` : `unhealthy (${s.problem}), ${s.mode}`;
  const rows = [
    ['registry', `${s.address}${s.listen !== s.address ? ` (listening on ${s.listen})` : ''}`],
    ['state', `${health}${s.pid ? `, pid ${s.pid}` : ''}`],
    ['storage', s.storage],
    ['size on disk', s.sizeBytes === null ? '- (S3 storage)' : formatBytes(s.sizeBytes)],
    ['repositories', s.repositories === null ? '-' : String(s.repositories)],
    ['tags', s.tags === null ? '-' : String(s.tags)],
    ['log', s.logFile],
    ...(s.tls ? [['CA', `${s.tls.ca}${s.tls.generated ? ' (made by Berth)' : ''}`], ['trusted here', s.tls.trust.installed ? s.tls.trust.path : `no: ${s.tls.trust.problem}`]] : []),
  ];
  output.out(table(rows));
  if (s.maintenance) {
    output.out(
      s.maintenance.interrupted
        ? `\nA "berth registry gc" was interrupted at "${s.maintenance.step}" (started ${s.maintenance.startedAt}); run "berth registry up" to make the registry writable.`
        : `\n"berth registry gc" is running: ${s.maintenance.step} (since ${s.maintenance.startedAt}); pushes wait until it finishes.`,
    );
  } else if (s.running && s.mode === 'read-only') output.out('\nThe registry is read-only; run "berth registry up" to make it writable.');
  else if (!s.running) output.out('\nStart it with "berth registry up".');
}

function gc(context: CommandContext): Promise<number> {
  const { output, flags } = context;
  const dryRun = Boolean(flags['dry-run']);
  const done = (report: GcReport) => {
    if (flags.json) printJson(output, report);
    else printReport(output, report);
    return 0;
  };
  const say = (text: string) => output.out(`→ ${text}`);
  return remoteOr(
    context,
    async (client) => {
      const answer = await client.post<RolloutAnswer<GcReport>>('/v1/registry/gc', { dryRun }, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
      return serverRollout<GcReport, { text: string }>(context, client, answer, done, (event) => say(event.text));
    },
    () => withWorkspace(context, async ({ project, engine, db }) => {
      const abort = new AbortController();
      const onSignal = () => {
        output.err('interrupted: stopping after the current step; the registry will be made writable again');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        return done(await collectGarbage(project, engine, db, context.env, { dryRun, signal: abort.signal, ...(flags.json ? {} : { onStep: say }) }));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}

function printReport(output: Output, r: GcReport): void {
  const short = (d: string) => d.slice(0, 19);
  if (r.plan.delete.length > 0) {
    output.out(`\n${r.dryRun ? 'would delete' : 'deleted'}:`);
    output.out(table([['REPOSITORY', 'DIGEST', 'TAGS', 'WHY'], ...r.plan.delete.map((m) => [m.repository, short(m.digest), m.tags.join(','), m.reason])]));
  }
  if (r.plan.skipped.length > 0) {
    output.out('\nexpired but kept:');
    output.out(table([['REPOSITORY', 'DIGEST', 'WHY'], ...r.plan.skipped.map((m) => [m.repository, short(m.digest), m.reason])]));
  }
  if (r.plan.protected.length > 0) {
    output.out('\nprotected:');
    output.out(table([['REPOSITORY', 'DIGEST', 'WHY'], ...r.plan.protected.map((m) => [m.repository, short(m.digest), `${m.reasons.join('; ')}${m.present ? '' : ' (not in the registry!)'}`])]));
  }
  output.out('');
  if (r.dryRun) {
    output.out(`dry run: ${r.plan.delete.length} manifest(s) would be deleted, ${r.plan.protected.length} protected; nothing was changed`);
    return;
  }
  const freed = r.bytesFreed === null ? `${r.blobsDeleted} blob(s) freed (S3 storage: size not measured)` : `${formatBytes(r.bytesFreed)} freed (${r.blobsDeleted} blob(s))`;
  output.out(`deleted ${r.deleted.length} manifest(s); ${freed}; verified ${r.verified?.manifests ?? 0} protected manifest(s) and ${r.verified?.blobs ?? 0} blob(s), test push ok; in ${formatDuration(r.durationMs)}`);
}
