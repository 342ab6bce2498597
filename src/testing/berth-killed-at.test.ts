/** The test-only CLI entry that injects the checkpoint fault: it runs the real CLI, and refuses a kill point that is not one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBerth } from './cli.js';

describe('berth-killed-at (the CLI with a checkpoint fault)', () => {
  it('runs the berth CLI with the arguments after the kill point (a command passing no checkpoint runs to its end)', async () => {
    const outcome = await runBerth(['help'], { env: process.env, killAt: 1 });
    assert.deepEqual([outcome.code, outcome.signal], [0, null], outcome.stderr);
    assert.match(outcome.stdout, /run "berth <command> --help" for a command's options/);
  });

  it('refuses a kill point that is not a whole number of 1 or more', async () => {
    const outcome = await runBerth(['help'], { env: process.env, killAt: 0 });
    assert.equal(outcome.code, 2);
    assert.equal(outcome.stderr, 'usage: berth-killed-at.js <checkpoint, 1 or more> <berth arguments…> (got "0")\n');
  });
});
