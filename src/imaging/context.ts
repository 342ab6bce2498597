import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Recipe } from './recipe.js';

/** Packs a recipe into the tar build context the engine expects. Fixed mtimes keep it reproducible. */
export function packContext(recipe: Recipe): Readable {
  const tar = pack();
  const mtime = new Date(0);
  tar.entry({ name: 'Dockerfile', mode: 0o644, mtime }, recipe.dockerfile);
  for (const entry of recipe.entries) {
    if (entry.symlink !== undefined) {
      tar.entry({ name: entry.path, type: 'symlink', linkname: entry.symlink, mode: 0o777, mtime });
    } else {
      const body = entry.content !== undefined ? Buffer.from(entry.content) : readFileSync(entry.source!);
      tar.entry({ name: entry.path, mode: entry.mode, mtime }, body);
    }
  }
  tar.finalize();
  return Readable.from(tar);
}
