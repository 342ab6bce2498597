import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { ContextEntry, Recipe } from './recipe.js';

/** Packs a recipe into the tar build context the engine expects. Fixed mtimes keep it reproducible. */
export function packContext(recipe: Recipe): Readable {
  const tar = pack();
  const mtime = new Date(0);
  tar.entry({ name: 'Dockerfile', mode: 0o644, mtime }, recipe.dockerfile);
  addEntries(tar, recipe.entries);
  tar.finalize();
  return Readable.from(tar);
}

/** Packs files to unpack at / in a container (the archive API takes the whole tar at once). */
export async function packFiles(entries: readonly ContextEntry[]): Promise<Buffer> {
  const tar = pack();
  addEntries(tar, entries);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function addEntries(tar: ReturnType<typeof pack>, entries: readonly ContextEntry[]): void {
  const mtime = new Date(0);
  for (const entry of entries) {
    if (entry.folder) {
      tar.entry({ name: entry.path, type: 'directory', mode: entry.mode, mtime });
    } else if (entry.symlink !== undefined) {
      tar.entry({ name: entry.path, type: 'symlink', linkname: entry.symlink, mode: 0o777, mtime });
    } else {
      const body = entry.content !== undefined ? Buffer.from(entry.content) : readFileSync(entry.source!);
      tar.entry({ name: entry.path, mode: entry.mode, mtime }, body);
    }
  }
}
