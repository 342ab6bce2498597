/** berth apply [--dry-run]: uploads the project's configuration to the server, versioned, showing the diff first. */
import { relative, sep } from 'node:path';
import { bundleDigests, collectBundle, encodeBundle, secretFiles } from '../../apply/bundle.js';
import type { ApplyOutcome } from '../../apply/versions.js';
import { loadProject } from '../../config/project.js';
import type { Command } from '../command.js';
import { printJson } from '../output.js';
import { requireServer } from '../remote.js';

export const applyCommand: Command = {
  name: 'apply',
  summary: "uploads berth.yaml (services, environments, networks, hosts, pipeline) and its folder to the server as a new configuration version, showing the diff",
  usage: 'berth apply [--dry-run] [--json]',
  options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  run: async (context) => {
    const { flags, output, env, cwd } = context;
    // Validated here first: a bad file fails with its line before anything is sent.
    const project = loadProject(flags.project as string | undefined, env, cwd);
    // The project's files that secrets are read from (as bundle paths): they stay here, not even read.
    const kept = [...secretFiles(project)].map((f) => relative(project.dir, f).split(sep).join('/')).filter((rel) => !rel.startsWith('..'));
    const bundle = collectBundle(project.dir, project.stateDir, new Set(kept));
    const client = requireServer(context, 'apply');
    try {
      const outcome = await client.post<ApplyOutcome>('/v1/config', { ...encodeBundle(bundle), dryRun: flags['dry-run'] === true });
      if (flags.json) {
        printJson(output, { ...outcome, digest: bundleDigests(bundle).digest });
        return 0;
      }
      // A changed YAML file as a unified diff (what a review reads); a new or removed file, and any other, by name.
      for (const change of outcome.diff.changes) {
        output.out(change.change === 'changed' && change.patch && /\.ya?ml$/.test(change.path) ? change.patch.replace(/^=+\n/, '').trimEnd() : `${change.change} ${change.path}`);
      }
      if (kept.length > 0) output.out(`not uploaded (secret files stay here; set them on the server with berth secret set): ${kept.join(', ')}`);
      if (outcome.diff.unchanged) output.out(`configuration of ${outcome.project} unchanged: version ${outcome.version}`);
      else if (outcome.dryRun) output.out(`dry run: applying would make version ${outcome.version} of ${outcome.project} (${outcome.diff.changes.length} file(s) changed); nothing was applied`);
      else output.out(`applied version ${outcome.version} of ${outcome.project} (${outcome.diff.changes.length} file(s) changed)`);
      return 0;
    } finally {
      client.close();
    }
  },
};
