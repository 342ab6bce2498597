/** berth secret set|ls|rm: values stored encrypted for a service in an environment; names are listed, values never shown. */
import type { Project } from '../../config/model.js';
import { environmentOf, serviceOf } from '../../runtime/context.js';
import { invalid, notFound } from '../../errors.js';
import { actor } from '../../rollout/executor.js';
import { readsFromStore } from '../../secrets/refs.js';
import { MAX_SECRET_BYTES, removeStoredSecret, secretStatuses, setStoredSecret, type SecretAddress, type SecretStatus } from '../../secrets/stored.js';
import { remoteOf, remoteOr } from '../remote.js';
import { describeSecret } from '../../secrets/vault.js';
import { withWorkspace, type Command, type CommandContext } from '../command.js';
import { printJson, table } from '../output.js';

const USAGE = 'berth secret set <service> <NAME> --env <env> < value-file | berth secret ls <service> [--env <env>] [--json] | berth secret rm <service> <NAME> --env <env>';

type ValueInput = NonNullable<CommandContext['stdin']>;

export const secretCommand: Command = {
  name: 'secret',
  summary: 'store a secret value for a service in an environment (encrypted at rest; berth.yaml: secrets: { NAME: stored }), list names, remove one',
  usage: USAGE,
  options: { env: { type: 'string', short: 'e' }, json: { type: 'boolean' } },
  run: (context) => {
    const [action, service, name, ...extra] = context.positionals;
    const env = typeof context.flags.env === 'string' ? context.flags.env : undefined;
    if (action === 'ls') {
      if (service === undefined || name !== undefined) throw invalid('name one service', { fix: 'usage: berth secret ls <service> [--env <env>] [--json]' });
      return list(context, service, env);
    }
    if ((action !== 'set' && action !== 'rm') || service === undefined || name === undefined || extra.length > 0) throw invalid('name set, ls or rm, a service and (for set and rm) a secret name', { fix: `usage: ${USAGE}` });
    if (env === undefined) throw invalid(`berth secret ${action}: name the environment with --env`, { fix: `berth secret ${action} ${service} ${name} --env <env>${action === 'set' ? ' < value-file' : ''}` });
    const address = { service, environment: env, name };
    return action === 'set' ? set(context, address) : remove(context, address);
  },
};

async function set(context: CommandContext, address: SecretAddress): Promise<number> {
  const input: ValueInput = context.stdin ?? process.stdin;
  const fix = `pipe the value in: berth secret set ${address.service} ${address.name} --env ${address.environment} < value-file (or printf %s "$VALUE" | berth secret set …)`;
  // A value typed at a terminal is echoed and kept in its scrollback.
  if (input.isTTY) throw invalid('berth secret set reads the value from its standard input, which is a terminal', { fix });
  const client = remoteOf(context);
  if (client) {
    try {
      const value = await readValue(input, fix);
      const result = await client.put<{ replaced: boolean; keyId: string; readByConfig: boolean }>(`/v1/services/${encodeURIComponent(address.service)}/secrets/${encodeURIComponent(address.name)}`, { environment: address.environment, value });
      return reportSet(context, address, result, result.readByConfig);
    } finally {
      client.close();
    }
  }
  return withWorkspace(context, async ({ project, db }) => {
    checkTarget(project, address);
    const value = await readValue(input, fix);
    const result = await setStoredSecret(db, project.stateDir, context.env, { ...address, value, actor: actor(context.env) });
    return reportSet(context, address, result, readsFromStore(project, address));
  });
}

function reportSet(context: CommandContext, address: SecretAddress, result: { replaced: boolean; keyId: string }, readByConfig: boolean): number {
  const { output } = context;
  if (context.flags.json) printJson(output, { ...address, replaced: result.replaced, keyId: result.keyId });
  else output.out(`${result.replaced ? 'replaced' : 'stored'} ${describeSecret(address)} (encrypted with key ${result.keyId}); the next rollout of ${address.service} in ${address.environment} uses it`);
  if (!readByConfig) {
    output.err(`note: berth.yaml does not read ${address.name} from the store for ${address.service} in ${address.environment}: add "${address.name}: stored" under services.${address.service}.secrets (or environments.${address.environment}.services.${address.service}.secrets)`);
  }
  return 0;
}

async function remove(context: CommandContext, address: SecretAddress): Promise<number> {
  const stillRead = await remoteOr(
    context,
    async (client) => (await client.delete<{ readByConfig: boolean }>(`/v1/services/${encodeURIComponent(address.service)}/secrets/${encodeURIComponent(address.name)}?env=${encodeURIComponent(address.environment)}`)).readByConfig,
    () =>
      withWorkspace(context, async ({ project, db }) => {
        if (!await removeStoredSecret(db, address)) {
          checkTarget(project, address);
          throw notFound(`${describeSecret(address)} is not set`, { fix: `list what is stored with: berth secret ls ${address.service}` });
        }
        return readsFromStore(project, address);
      }),
  );
  if (context.flags.json) printJson(context.output, { ...address, removed: true });
  else context.output.out(`removed ${describeSecret(address)}`);
  if (stillRead) context.output.err(`note: berth.yaml still reads it from the store: the next rollout of ${address.service} in ${address.environment} fails until it is set again`);
  return 0;
}

async function list(context: CommandContext, service: string, environment: string | undefined): Promise<number> {
  const listed = await remoteOr(
    context,
    async (client) => (await client.get<{ secrets: SecretStatus[] }>(`/v1/services/${encodeURIComponent(service)}/secrets`, { env: environment })).secrets,
    () =>
      withWorkspace(context, async ({ project, db }) => {
        const found = await secretStatuses(db, project, service, environment);
        // A service gone from berth.yaml may still have values to remove: only an empty listing checks the names.
        if (found.length === 0) checkTarget(project, { service, environment: environment ?? '', name: '' }, environment !== undefined);
        return found;
      }),
  );
  if (context.flags.json) {
    printJson(context.output, { secrets: listed });
    return 0;
  }
  if (listed.length === 0) {
    context.output.out(`no stored secrets of ${service}${environment ? ` in ${environment}` : ''}: berth secret set ${service} <NAME> --env <env> < value-file`);
    return 0;
  }
  const rows = listed.map((l) => [l.name, l.environment, l.set ? l.updatedAt!.replace('T', ' ').slice(0, 19) : 'not set', l.updatedBy ?? '']);
  context.output.out(table([['NAME', 'ENV', 'UPDATED', 'BY'], ...rows]));
  return 0;
}

/** The value from stdin: one trailing newline (what `echo` and editors add) is not part of it. */
async function readValue(input: ValueInput, fix: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_SECRET_BYTES + 2) throw invalid(`the value is more than ${MAX_SECRET_BYTES} bytes`, { fix: 'store a smaller value; put large files in the image or a config file' });
    chunks.push(bytes);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw invalid('the value is not UTF-8 text', { fix: 'store text (a secret becomes an environment variable); encode binary data, e.g. with base64' });
  }
  const value = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  if (value === '') throw invalid('the value on standard input is empty', { fix });
  return value;
}

/** The service and environment exist in berth.yaml (with their did-you-mean errors). */
function checkTarget(project: Project, address: SecretAddress, withEnvironment = true): void {
  serviceOf(project, address.service);
  if (withEnvironment) environmentOf(project, address.environment);
}
