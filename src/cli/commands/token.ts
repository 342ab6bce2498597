/** berth token create | ls | revoke: the server's API tokens (admin only). The new token is the last line of create's output. */
import { invalid } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { requiredFlag } from '../flags.js';
import { printJson, table } from '../output.js';
import { requireServer } from '../remote.js';

interface TokenView {
  name: string;
  role: string;
  envs: string[];
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

const USAGE = 'berth token create --name NAME --role viewer|deployer|admin [--envs a,b] | berth token ls [--json] | berth token revoke NAME';

export function tokenLines(tokens: readonly TokenView[]): string[] {
  if (tokens.length === 0) return ['no tokens'];
  return [table([['NAME', 'ROLE', 'ENVS', 'CREATED BY', 'CREATED', 'REVOKED'], ...tokens.map((t) => [t.name, t.role, t.envs.length > 0 ? t.envs.join(',') : t.role === 'deployer' ? 'all' : '-', t.createdBy, t.createdAt, t.revokedAt ?? '-'])])];
}

async function run(context: CommandContext): Promise<number> {
  const { positionals, flags, output } = context;
  const [action, ...rest] = positionals;
  if (action !== 'create' && action !== 'ls' && action !== 'revoke') throw invalid(`unknown token action "${action ?? ''}"`, { fix: `usage: ${USAGE}` });
  if (action === 'revoke' ? rest.length !== 1 : rest.length > 0) throw invalid(action === 'revoke' ? 'name one token to revoke' : `berth token ${action} takes no arguments`, { fix: `usage: ${USAGE}` });
  const client = requireServer(context, 'token');
  try {
    if (action === 'create') {
      const name = requiredFlag(flags.name, '--name', USAGE);
      const role = requiredFlag(flags.role, '--role', USAGE);
      const envs = typeof flags.envs === 'string' ? flags.envs.split(',').map((e) => e.trim()).filter((e) => e !== '') : [];
      const created = await client.post<TokenView & { token: string }>('/v1/tokens', { name, role, ...(envs.length > 0 ? { envs } : {}) });
      if (flags.json) printJson(output, created);
      else {
        output.out(`token ${created.name}: ${created.role}${created.envs.length > 0 ? ` of ${created.envs.join(', ')}` : created.role === 'deployer' ? ' of every environment' : ''}, created by ${created.createdBy}`);
        output.out('shown once: keep it (BERTH_TOKEN=…); the server stores only its hash');
        output.out(created.token);
      }
      return 0;
    }
    if (action === 'ls') {
      const { tokens } = await client.get<{ tokens: TokenView[] }>('/v1/tokens');
      if (flags.json) printJson(output, { tokens });
      else for (const line of tokenLines(tokens)) output.out(line);
      return 0;
    }
    const name = rest[0]!;
    await client.delete(`/v1/tokens/${encodeURIComponent(name)}`);
    if (flags.json) printJson(output, { revoked: name });
    else output.out(`token ${name} revoked: requests with it are refused from now on`);
    return 0;
  } finally {
    client.close();
  }
}

export const tokenCommand: Command = {
  name: 'token',
  summary: "the server's API tokens: create one (printed once, as the last line), list them, revoke one",
  usage: USAGE,
  options: { name: { type: 'string' }, role: { type: 'string' }, envs: { type: 'string' }, json: { type: 'boolean' } },
  run,
};
