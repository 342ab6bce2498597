/** berth audit [--since] [--actor] [--json] | audit verify: who did what through the server, and whether the log is intact. */
import type { ChainVerdict } from '../../access/audit.js';
import { failed, invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { positiveFlag } from '../flags.js';
import { printJson, table } from '../output.js';
import { requireServer } from '../remote.js';

export interface AuditEntryView {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  params: Record<string, unknown>;
  hash: string;
}

const USAGE = 'berth audit [--since 1h|ISO] [--actor NAME] [--limit N] [--json] | berth audit verify [--json]';

export function auditLines(entries: readonly AuditEntryView[]): string[] {
  if (entries.length === 0) return ['no audit entries'];
  return [table([['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'], ...entries.map((e) => [String(e.seq), e.at, e.actor, e.action, e.target || '-', e.outcome])])];
}

export const auditCommand: Command = {
  name: 'audit',
  summary: "the server's audit log: every mutating request, allowed or refused (who, what, on what, how it ended); verify checks its hash chain",
  usage: USAGE,
  options: { since: { type: 'string' }, actor: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  run: async (context) => {
    const { positionals, flags, output } = context;
    const [action, ...extra] = positionals;
    if ((action !== undefined && action !== 'verify') || extra.length > 0) throw invalid(`unknown audit action "${positionals.join(' ')}"`, { fix: `usage: ${USAGE}` });
    const client = requireServer(context, 'audit');
    try {
      if (action === 'verify') {
        const verdict = await client.get<ChainVerdict>('/v1/audit/verify');
        if (flags.json) printJson(output, verdict);
        if (!verdict.ok) throw failed(`audit entry ${verdict.seq} does not match its chain: ${verdict.reason}`, { fix: `the log was changed outside Berth near entry ${verdict.seq}: compare the store with a backup; berth audit --json shows the entries and their hashes` });
        if (!flags.json) output.out(`audit log intact: ${verdict.count} entries`);
        return 0;
      }
      const limit = positiveFlag(flags.limit, '--limit');
      const query = { since: flags.since as string | undefined, actor: flags.actor as string | undefined, limit };
      const { entries } = await client.get<{ entries: AuditEntryView[] }>('/v1/audit', query);
      if (flags.json) printJson(output, { entries });
      else for (const line of auditLines(entries)) output.out(line);
      return 0;
    } finally {
      client.close();
    }
  },
};
