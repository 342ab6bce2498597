import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { readSavedImages, savedImages } from './saved-images.js';

const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** An export laid out as Docker Engine 20.10 writes it: entries in name order, manifest.json last, a repeated layer as a symlink. */
function engineExport(): { stream: Readable; base: Buffer; own: Buffer; parentId: string; childId: string; childConfig: Buffer } {
  const base = Buffer.from('base layer bytes');
  const own = Buffer.from('child layer bytes, a little longer');
  const parentConfig = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha(base)] } }));
  // The child repeats the base layer on top (an empty RUN does that): the export links it.
  const childConfig = Buffer.from(JSON.stringify({ config: { Labels: { a: 'b' } }, rootfs: { type: 'layers', diff_ids: [sha(base), sha(own), sha(base)] } }));
  const parentId = sha(parentConfig);
  const childId = sha(childConfig);
  const tar = pack();
  tar.entry({ name: 'aaa/', type: 'directory' });
  tar.entry({ name: 'aaa/VERSION' }, '1.0');
  tar.entry({ name: 'aaa/json' }, '{}');
  tar.entry({ name: 'aaa/layer.tar' }, base);
  tar.entry({ name: 'bbb/layer.tar' }, own);
  tar.entry({ name: 'ccc/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' });
  tar.entry({ name: `${parentId.slice(7)}.json` }, parentConfig);
  tar.entry({ name: `${childId.slice(7)}.json` }, childConfig);
  tar.entry(
    { name: 'manifest.json' },
    JSON.stringify([
      { Config: `${parentId.slice(7)}.json`, RepoTags: null, Layers: ['aaa/layer.tar'] },
      { Config: `${childId.slice(7)}.json`, RepoTags: null, Layers: ['aaa/layer.tar', 'bbb/layer.tar', 'ccc/layer.tar'] },
    ]),
  );
  tar.finalize();
  return { stream: Readable.from(tar), base, own, parentId, childId, childConfig };
}

describe('reading the engine export of images', () => {
  it("keeps each config's exact bytes under its image ID and each layer under its diffID, links followed", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-saved-'));
    try {
      const e = engineExport();
      const images = await readSavedImages(e.stream, dir);
      assert.deepEqual([...images.keys()].sort(), [e.parentId, e.childId].sort());
      const child = images.get(e.childId)!;
      assert.ok(child.config.equals(e.childConfig));
      assert.equal(sha(child.config), e.childId);
      assert.deepEqual(child.layers.map((l) => l.digest), [sha(e.base), sha(e.own), sha(e.base)]);
      assert.deepEqual(child.layers.map((l) => l.size), [e.base.length, e.own.length, e.base.length]);
      for (const layer of child.layers) assert.equal(sha(readFileSync(layer.file)), layer.digest);
      assert.equal(images.get(e.parentId)!.layers[0]!.file, child.layers[0]!.file, 'one file per layer in the export');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an export whose manifest and config disagree, naming the config', () => {
    const config = Buffer.from(JSON.stringify({ rootfs: { diff_ids: ['sha256:1', 'sha256:2'] } }));
    assert.throws(
      () => savedImages([{ Config: 'abc.json', Layers: ['x/layer.tar'] }], new Map([['abc.json', config]]), new Map([['x/layer.tar', { file: '/f', size: 1 }]])),
      /abc\.json has 1 layer\(s\) where its config names 2/,
    );
    assert.throws(() => savedImages(undefined, new Map(), new Map()), /without a manifest\.json/);
    assert.throws(() => savedImages([{ Config: 'abc.json', Layers: ['y/layer.tar', 'x/layer.tar'] }], new Map([['abc.json', config]]), new Map([['x/layer.tar', { file: '/f', size: 1 }]])), /lacks its layer y\/layer\.tar/);
  });
});
