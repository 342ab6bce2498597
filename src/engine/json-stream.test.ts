import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readJsonStream } from './json-stream.js';

describe('readJsonStream', () => {
  it('reads every message whole wherever two chunks meet: between, inside a JSON object, inside a UTF-8 character', async () => {
    const messages = [{ stream: 'déjà vu 🚢 日本\n' }, { status: 'Pulling fs layer', id: 'abc' }, { aux: { ID: 'sha256:1' } }];
    const bytes = Buffer.from(messages.map((m) => `${JSON.stringify(m)}\r\n`).join(''));
    for (let at = 0; at <= bytes.length; at++) {
      const seen: unknown[] = [];
      const all = await readJsonStream(Readable.from([bytes.subarray(0, at), bytes.subarray(at)]), (m) => seen.push(m));
      assert.deepEqual(all, messages, `cut at byte ${at}`);
      assert.deepEqual(seen, messages, `cut at byte ${at}`);
    }
  });

  it('reads a last message without a newline and skips what is not JSON', async () => {
    assert.deepEqual(await readJsonStream(Readable.from([Buffer.from('\r\nnot json\n{"a":1}\n  \n{"b":2}')])), [{ a: 1 }, { b: 2 }]);
  });
});
