import { parseArgs } from 'node:util';
import { invalid } from '../errors.js';
import { didYouMean } from '../config/suggest.js';
import { commonOptions, type Command, type CommandContext } from './command.js';
import { attachDashedValues } from './flags.js';
import { buildCommand } from './commands/build.js';
import { deployCommand } from './commands/deploy.js';
import { doctorCommand } from './commands/doctor.js';
import { execCommand } from './commands/exec.js';
import { historyCommand } from './commands/history.js';
import { hostsCommand } from './commands/hosts.js';
import { hostCommand } from './commands/host.js';
import { canaryCommand, promoteCommand, releaseCommand, rollbackCommand, scaleCommand } from './commands/release.js';
import { imagesCommand } from './commands/images.js';
import { ipamCommand } from './commands/ipam.js';
import { lbCommand } from './commands/lb.js';
import { restartCommand, rmCommand, stopCommand } from './commands/lifecycle.js';
import { logsCommand } from './commands/logs.js';
import { moveCommand } from './commands/move.js';
import { psCommand } from './commands/ps.js';
import { pushCommand } from './commands/push.js';
import { registryCommand } from './commands/registry.js';
import { rolloutCommand } from './commands/rollout.js';
import { applyCommand } from './commands/apply.js';
import { approvalsCommand, approveCommand, rejectCommand } from './commands/approvals.js';
import { auditCommand } from './commands/audit.js';
import { tokenCommand } from './commands/token.js';
import { serverCommand } from './commands/server.js';
import { storeCommand } from './commands/store.js';
import { serverTarget } from '../remote/target.js';
import { secretCommand } from './commands/secret.js';
import { statusCommand } from './commands/status.js';
import { storeFailure } from '../store/db.js';
import { processOutput, renderError, type Output } from './output.js';

const commands: Command[] = [
  buildCommand,
  imagesCommand,
  pushCommand,
  registryCommand,
  deployCommand,
  psCommand,
  logsCommand,
  execCommand,
  restartCommand,
  stopCommand,
  rmCommand,
  releaseCommand,
  promoteCommand,
  rollbackCommand,
  scaleCommand,
  canaryCommand,
  hostCommand,
  moveCommand,
  rolloutCommand,
  statusCommand,
  historyCommand,
  secretCommand,
  lbCommand,
  ipamCommand,
  hostsCommand,
  doctorCommand,
  serverCommand,
  storeCommand,
  applyCommand,
  tokenCommand,
  approvalsCommand,
  approveCommand,
  rejectCommand,
  auditCommand,
];

/**
 * Commands that change what runs but do not go through a server yet: with one configured they are refused, so the
 * server's state and a local .berth never both claim the same instances.
 */
const LOCAL_ONLY = new Set(['stop', 'rm', 'exec', 'ipam', 'lb', 'logs']);

function help(output: Output): void {
  output.out('berth: build, ship and run stateless services on plain Docker Engine hosts\n');
  output.out('usage: berth <command> [options]\n');
  for (const c of commands) output.out(`  ${c.name.padEnd(10)} ${c.summary}`);
  output.out('\ncommon options: -p, --project <path>   berth.yaml or its folder (default: the current folder)');
  output.out('                -v, --verbose          more output, and stack traces on errors');
  output.out('                --server <url>         a Berth server to ask (or BERTH_SERVER; BERTH_TOKEN is the token); without one, in-process');
  output.out('run "berth <command> --help" for a command\'s options');
}

export async function main(argv: string[], output: Output = processOutput(), env = process.env, cwd = process.cwd(), stdin?: CommandContext['stdin']): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    help(output);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  try {
    if (!command) {
      throw invalid(`unknown command "${name}"${didYouMean(name, commands.map((c) => c.name))}`, { fix: 'run "berth help" for the list of commands' });
    }
    const parsed = parseCommandArgs(command, rest);
    if (parsed.values.help) {
      output.out(`usage: ${command.usage}\n\n${command.summary}`);
      return 0;
    }
    if (LOCAL_ONLY.has(command.name)) {
      const target = serverTarget(typeof parsed.values.server === 'string' ? parsed.values.server : undefined, env);
      if (target) {
        throw invalid(`berth ${command.name} does not go through a Berth server yet, and one is configured (${target.url.origin})`, {
          fix: `run it on the server's machine without BERTH_SERVER (against the server's state: BERTH_STATE_DIR=<its --state>), or use the commands that do: deploy, release, promote, rollback, scale, canary, restart, move, host drain|undrain, registry gc, ps, history, rollout, hosts, status`,
        });
      }
    }
    return await command.run({ positionals: parsed.positionals, flags: parsed.values, output, env, cwd, ...(stdin ? { stdin } : {}) });
  } catch (error) {
    return renderError(output, storeFailure(error) ?? error, argv.includes('--verbose') || argv.includes('-v'));
  }
}

function parseCommandArgs(command: Command, args: string[]) {
  try {
    const options = { ...commonOptions, ...command.options };
    const stringFlags = new Set(
      Object.entries(options).flatMap(([name, o]) => (o.type === 'string' ? [`--${name}`, ...('short' in o && o.short ? [`-${o.short}`] : [])] : [])),
    );
    return parseArgs({ args: attachDashedValues(args, stringFlags), options, allowPositionals: true, strict: true });
  } catch (error) {
    throw invalid(`berth ${command.name}: ${(error as Error).message}`, { fix: `usage: ${command.usage}` });
  }
}
