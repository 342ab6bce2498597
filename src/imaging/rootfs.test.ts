import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTool } from './rootfs.js';

describe('runTool', () => {
  it('passes on whole lines of stdout and stderr, however the pipe cuts them (inside a line, inside a character)', async () => {
    // Each pause lets the pipe deliver what was written so far as its own chunk.
    const script = [
      "printf 'half a '; sleep 0.2; printf 'line\\n'",
      "printf 'err: d\\303' >&2; sleep 0.2; printf '\\251j\\303\\240 vu\\n' >&2",
      "printf 'last, without a newline'",
    ].join('; ');
    const lines: string[] = [];
    await runTool('sh', ['-c', script], process.env, (line) => lines.push(line));
    assert.deepEqual(lines.sort(), ['err: déjà vu', 'half a line', 'last, without a newline']);
  });

  it('fails with the exit code and the last lines', async () => {
    await assert.rejects(runTool('sh', ['-c', 'echo one; echo two >&2; exit 3'], process.env, () => {}), (error: Error & { lines?: string[] }) => {
      assert.match(error.message, /sh failed with exit code 3/);
      assert.deepEqual(error.lines?.sort(), ['one', 'two']);
      return true;
    });
  });
});
