/** This Berth's version, as its package.json says (found above the script that runs: bin/berth.js, or a compiled test). */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

let known: string | undefined;

export function berthVersion(): string {
  if (known !== undefined) return known;
  known = 'unknown';
  let dir = dirname(realpathOr(process.argv[1] ?? '.'));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'berth' && pkg.version) return (known = pkg.version);
  }
  return known;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
