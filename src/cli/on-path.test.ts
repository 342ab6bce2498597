/** `berth` run through a link in another folder, as scripts/setup.sh puts it on the PATH. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BERTH_BIN } from '../testing/cli.js';

describe('berth on the PATH', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-on-path-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs through a link from any folder, finding its bundle beside the link\'s target', async () => {
    const link = join(dir, 'berth');
    symlinkSync(BERTH_BIN, link);
    // Run as the shell runs a command on the PATH: the link itself, from a folder without a project.
    const { stdout } = await promisify(execFile)(link, ['--help'], { cwd: dir, env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } });
    assert.match(stdout, /^usage: berth <command> \[options\]$/m);
  });
});
