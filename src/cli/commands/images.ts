import { imageStatuses } from '../../build/status.js';
import { withWorkspace, type Command } from '../command.js';
import { formatBytes, formatDuration, printJson, table } from '../output.js';

export const imagesCommand: Command = {
  name: 'images',
  summary: 'the image tree: key, image ID, size, build time and state of each image',
  usage: 'berth images [--json]',
  options: { json: { type: 'boolean' } },
  run: (context) =>
    withWorkspace(context, async ({ project, engine, db }) => {
      const statuses = await imageStatuses(project, engine, db);
      if (context.flags.json) {
        printJson(context.output, { images: statuses });
        return 0;
      }
      const rows = statuses.map((s) => [
        `${'  '.repeat(s.depth)}${s.depth > 0 ? '└ ' : ''}${s.name}`,
        s.key ? s.key.slice(0, 12) : '-',
        s.imageId ? s.imageId.replace('sha256:', '').slice(0, 12) : '-',
        s.size !== null ? formatBytes(s.size) : '-',
        s.buildMs !== null ? formatDuration(s.buildMs) : '-',
        s.state === 'up to date' ? s.state : `${s.state}: ${s.reason}`,
      ]);
      context.output.out(table([['IMAGE', 'KEY', 'IMAGE ID', 'SIZE', 'BUILD TIME', 'STATE'], ...rows]));
      return 0;
    }),
};
