/** Integration: the door's image is built by the hierarchy builder from Debian's packages, once per key. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectEngine } from '../engine/client.js';
import { ensureSystemImage, SYSTEM_PROJECT } from '../imaging/system-image.js';
import type { Store } from '../store/db.js';
import { tempStoreForFile } from '../testing/temp-store.js';
import { DOOR_IMAGE } from './door-image.js';

describe('the door image', () => {
  let db: Store;
  tempStoreForFile('berth-door-image-', (opened) => (db = opened));
  const engine = connectEngine(process.env);

  it('is built from Debian packages with HAProxy, keepalived and socat, and found again by its key without a build', async () => {
    const tag = await ensureSystemImage(DOOR_IMAGE, { engine, db, env: process.env });
    assert.match(tag, /^berth\/berth-door:[0-9a-f]{12}$/);
    const image = await engine.images.inspect(tag);
    assert.equal(image?.labels['berth.project'], SYSTEM_PROJECT);
    assert.equal(image?.labels['berth.system'], 'door');
    assert.match(image?.labels['berth.rootfs'] ?? image?.labels['org.opencontainers.image.base.name'] ?? '', /.+/);
    const lines: string[] = [];
    assert.equal(await ensureSystemImage(DOOR_IMAGE, { engine, db, env: process.env, onLine: (l) => lines.push(l) }), tag);
    // Only a build's own lines: a file beside this one may hold the build lock for a moment ("waiting for process …").
    assert.deepEqual(lines.filter((l) => !l.startsWith('waiting for process')), [], 'a second call builds nothing');
  });
});
