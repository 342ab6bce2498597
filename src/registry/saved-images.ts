/**
 * Reads the engine's export of images (`docker save`'s layout): each layer's
 * layer.tar is written to a file in `dir` as it streams by, each config kept
 * as its exact bytes (its sha256 is the image ID, so they must not be
 * re-encoded). A layer.tar is the layer uncompressed, so its digest is the
 * layer's diffID: no hashing here; the registry checks the digest on upload.
 */
import { createWriteStream } from 'node:fs';
import { posix } from 'node:path';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { failed } from '../errors.js';

export interface SavedLayer {
  /** sha256:… of the uncompressed layer (the diffID). */
  digest: string;
  size: number;
  file: string;
}

export interface SavedImage {
  /** The image ID: sha256 of `config`. */
  id: string;
  config: Buffer;
  /** Bottom layer first. */
  layers: SavedLayer[];
}

interface Entry {
  file?: string;
  size?: number;
  /** A layer.tar that the export made a link to another one with the same content. */
  linkTo?: string;
}

/** Streams an export into `dir`; resolves with each image's config and layers. */
export async function readSavedImages(stream: Readable, dir: string): Promise<Map<string, SavedImage>> {
  const entries = new Map<string, Entry>();
  const configs = new Map<string, Buffer>();
  let manifest: unknown;
  const tar = extract();
  let count = 0;
  tar.on('entry', (header, body, next) => {
    const name = posix.normalize(header.name);
    const done = (error?: unknown) => (error ? next(error as Error) : next());
    if (name.endsWith('/layer.tar') && (header.type === 'symlink' || header.type === 'link')) {
      entries.set(name, { linkTo: header.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(name), header.linkname ?? '')) : posix.normalize(header.linkname ?? '') });
      body.resume();
      body.on('end', () => done());
      return;
    }
    if (name.endsWith('/layer.tar')) {
      const file = join(dir, `${count++}.tar`);
      entries.set(name, { file, size: header.size ?? 0 });
      pipeline(body, createWriteStream(file)).then(() => done(), done);
      return;
    }
    if (name === 'manifest.json' || (!name.includes('/') && name.endsWith('.json'))) {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        const data = Buffer.concat(chunks);
        if (name === 'manifest.json') manifest = JSON.parse(data.toString('utf8'));
        else configs.set(name, data);
        done();
      });
      return;
    }
    body.resume();
    body.on('end', () => done());
  });
  await pipeline(stream, tar);
  return savedImages(manifest, configs, entries);
}

/** Joins the export's manifest.json, configs and layer files (pure). */
export function savedImages(manifest: unknown, configs: ReadonlyMap<string, Buffer>, entries: ReadonlyMap<string, Entry>): Map<string, SavedImage> {
  if (!Array.isArray(manifest)) throw failed('the engine exported images without a manifest.json');
  const images = new Map<string, SavedImage>();
  for (const item of manifest as { Config?: string; Layers?: string[] }[]) {
    const config = item.Config === undefined ? undefined : configs.get(item.Config);
    if (config === undefined) throw failed(`the engine's export names a config ${item.Config ?? '(none)'} that it does not contain`);
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
    const paths = item.Layers ?? [];
    if (paths.length !== diffIds.length) throw failed(`the engine's export of ${item.Config} has ${paths.length} layer(s) where its config names ${diffIds.length}`);
    const layers = paths.map((path, i) => {
      let entry = entries.get(posix.normalize(path));
      for (let hops = 0; entry?.linkTo !== undefined && hops < 8; hops++) entry = entries.get(entry.linkTo);
      if (entry?.file === undefined) throw failed(`the engine's export of ${item.Config} lacks its layer ${path}`);
      return { digest: diffIds[i]!, size: entry.size ?? 0, file: entry.file };
    });
    const id = `sha256:${item.Config!.replace(/\.json$/, '')}`;
    images.set(id, { id, config, layers });
  }
  return images;
}
