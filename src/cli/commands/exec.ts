import { execIn, selectInstances } from '../../release/operate.js';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { requiredFlag } from '../flags.js';
import { withRun } from '../run-workspace.js';

const USAGE = 'berth exec <service|instance> --env <env> -- <command> [args...]';

export const execCommand: Command = {
  name: 'exec',
  summary: "run a command in an instance (a service's first running one) and print its output; exits with its code",
  usage: USAGE,
  options: { env: { type: 'string', short: 'e' } },
  run: (context) => {
    const [name, ...command] = context.positionals;
    if (name === undefined || command.length === 0) throw invalid('name an instance or service and a command', { fix: `usage: ${USAGE}` });
    const environment = requiredFlag(context.flags.env, '--env', USAGE);
    return withRun(context, async (run) => {
      const instances = await selectInstances(run, name, environment);
      const target = instances.find((i) => i.state === 'running');
      if (!target) throw invalid(`no running instance of ${name} in ${environment}`, { fix: `start it: berth deploy ${instances[0]!.service} --env ${environment}` });
      const result = await execIn(run, target, command);
      if (result.output) process.stdout.write(result.output);
      return result.exitCode;
    });
  },
};
