import { imageStatuses } from '../../imaging/status.js';
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
      const labels = treeLabels(statuses);
      const rows = statuses.map((s, i) => [
        labels[i]!,
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

/**
 * The IMAGE column: each name under its parent with tree lines. The items come
 * in depth-first order (imaging/status.ts `depthFirst`).
 * @example treeLabels([{ name: 'base', parent: null }, { name: 'jdk17', parent: 'base' }, { name: 'tomcat', parent: 'jdk17' }, { name: 'nodejs', parent: 'base' }])
 * // → ['base', '├─ jdk17', '│  └─ tomcat', '└─ nodejs']
 */
export function treeLabels(items: readonly { name: string; parent: string | null }[]): string[] {
  const byName = new Map(items.map((item) => [item.name, item]));
  const hasParent = (item: { parent: string | null }) => item.parent !== null && byName.has(item.parent);
  // In depth-first order, the last child listed under a parent is its last child.
  const lastChildOf = new Map<string, string>();
  for (const item of items) if (hasParent(item)) lastChildOf.set(item.parent!, item.name);
  const isLast = (item: { name: string; parent: string | null }) => lastChildOf.get(item.parent!) === item.name;
  return items.map((item) => {
    if (!hasParent(item)) return item.name;
    let prefix = isLast(item) ? '└─ ' : '├─ ';
    for (let up = byName.get(item.parent!)!; hasParent(up); up = byName.get(up.parent!)!) prefix = `${isLast(up) ? '   ' : '│  '}${prefix}`;
    return `${prefix}${item.name}`;
  });
}
