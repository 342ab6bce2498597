import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSse } from './sse.js';

async function collect(chunks: string[]) {
  const out = [];
  for await (const e of parseSse((async function* () {
    yield* chunks;
  })())) out.push(e);
  return out;
}

describe('parseSse', () => {
  it('reads id, event and data, across chunk boundaries, skipping comments', async () => {
    const events = await collect(['id: 1\nevent: a\nda', 'ta: {"x":1}\n\n: keep-alive\n\n', 'id: 2\nevent: b\ndata: one\ndata: two\n\n']);
    assert.deepEqual(events, [
      { id: '1', event: 'a', data: '{"x":1}' },
      { id: '2', event: 'b', data: 'one\ntwo' },
    ]);
  });

  it('keeps an unfinished event until its blank line arrives (a dropped connection loses only it, and the resume sends it again)', async () => {
    assert.deepEqual(await collect(['id: 3\nevent: a\ndata: {}\n']), []);
  });
});
