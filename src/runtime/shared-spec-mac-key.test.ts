import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { closeStore, openStore } from '../store/db.js';
import { sharedSpecMacKey, specMacKey } from './secrets.js';

describe('the spec-MAC key of servers sharing a store', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-spec-mac-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('the first server records its fingerprint; one with another key (or a new one) is refused naming the file; a copied key is accepted', async () => {
    const db = await openStore(join(root, 'store'));
    try {
      const [one, two] = [join(root, 'one'), join(root, 'two')];
      assert.deepEqual(await sharedSpecMacKey(db, one), specMacKey(one));
      await assert.rejects(
        sharedSpecMacKey(db, two),
        (error: unknown) => isBerthError(error) && error.kind === 'unavailable' && error.message.includes(join(two, 'spec-mac.key')) && /copy spec-mac\.key/.test(error.fix ?? ''),
      );
      copyFileSync(join(one, 'spec-mac.key'), join(two, 'spec-mac.key'));
      assert.deepEqual(await sharedSpecMacKey(db, two), specMacKey(one));
    } finally {
      await closeStore(db);
    }
  });
});
