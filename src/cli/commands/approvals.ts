/** berth approvals | approve <id> | reject <id>: promotions to protected environments waiting for a second token. */
import { ROLLOUT_START_TIMEOUT_MS } from '../../remote/client.js';
import type { ApprovalView } from '../../access/approvals.js';
import { invalid } from '../../errors.js';
import type { ServerClient } from '../../remote/client.js';
import type { Command, CommandContext } from '../command.js';
import { positiveFlag } from '../flags.js';
import { printJson, table } from '../output.js';
import { approvalLines, requireServer, serverRollout, type RolloutAnswer } from '../remote.js';
import { finish, progress } from './release.js';


async function withServer<T>(context: CommandContext, command: string, use: (client: ServerClient) => Promise<T>): Promise<T> {
  const client = requireServer(context, command);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

function idArg(context: CommandContext, usage: string): number {
  const [id, ...extra] = context.positionals;
  if (id === undefined || extra.length > 0) throw invalid('name one approval by its number', { fix: `usage: ${usage} (berth approvals lists them)` });
  return positiveFlag(id.replace(/^#/, ''), 'the approval number')!;
}

export const approvalsCommand: Command = {
  name: 'approvals',
  summary: 'the promotions to protected environments: pending ones first (who asked, until when), then how the others were decided',
  usage: 'berth approvals [--json]',
  options: { json: { type: 'boolean' } },
  run: (context) =>
    withServer(context, 'approvals', async (client) => {
      const { approvals } = await client.get<{ approvals: ApprovalView[] }>('/v1/approvals');
      if (context.flags.json) printJson(context.output, { approvals });
      else if (approvals.length === 0) context.output.out('no approvals');
      else
        context.output.out(
          table([
            ['#', 'SERVICE', 'ENV', 'STATUS', 'ASKED BY', 'ASKED', 'EXPIRES', 'DECIDED BY', 'ROLLOUT'],
            ...approvals.map((a) => [String(a.id), a.service, a.environment, a.status, a.requestedBy, a.createdAt, a.expiresAt, a.decidedBy ?? '-', a.rollout === null ? '-' : `#${a.rollout}`]),
          ]),
        );
      return 0;
    }),
};


const APPROVE_USAGE = 'berth approve <id> [--detach] [--json]';
export const approveCommand: Command = {
  name: 'approve',
  summary: 'approves a pending promotion to a protected environment (another token than the one that asked): it starts, followed like berth promote',
  usage: APPROVE_USAGE,
  options: { json: { type: 'boolean' }, detach: { type: 'boolean' } },
  run: (context) => {
    const id = idArg(context, APPROVE_USAGE);
    return withServer(context, 'approve', async (client) => {
      const answer = await client.post<RolloutAnswer & { approval: ApprovalView }>(`/v1/approvals/${id}/approve`, {}, { timeoutMs: ROLLOUT_START_TIMEOUT_MS });
      if (!context.flags.json) context.output.out(`approval #${id} approved by ${answer.approval.decidedBy}: promoting ${answer.approval.service} to ${answer.approval.environment}${answer.rollout !== undefined ? ` (rollout #${answer.rollout})` : ''}`);
      const { approval: _decided, ...rollout } = answer;
      return serverRollout(context, client, rollout, (result) => finish(context, result), progress(context.output));
    });
  },
};

const REJECT_USAGE = 'berth reject <id> [--json]';
export const rejectCommand: Command = {
  name: 'reject',
  summary: 'rejects a pending promotion to a protected environment (another token than the one that asked)',
  usage: REJECT_USAGE,
  options: { json: { type: 'boolean' } },
  run: (context) => {
    const id = idArg(context, REJECT_USAGE);
    return withServer(context, 'reject', async (client) => {
      const { approval } = await client.post<{ approval: ApprovalView }>(`/v1/approvals/${id}/reject`, {});
      if (context.flags.json) printJson(context.output, { approval });
      else for (const line of approvalLines(approval)) context.output.out(line);
      return 0;
    });
  },
};
