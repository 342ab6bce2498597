import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerthErrors, failed, invalid, notFound, unavailable } from '../errors.js';
import { formatBytes, formatDuration, printJson, renderError, table, type Output } from './output.js';

/** An Output that collects what would be written. */
function fakeOutput(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { isTTY: false, color: false, stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

describe('renderError', () => {
  it('prints the kind, the message and the fix on stderr, and returns exit code 2 for invalid input', () => {
    const output = fakeOutput();
    const code = renderError(output, invalid('berth.yaml:3: images.jdk: bad', { fix: 'correct it' }));
    assert.equal(code, 2);
    assert.deepEqual(output.stderr, ['error (invalid input): berth.yaml:3: images.jdk: bad', '  fix: correct it']);
    assert.deepEqual(output.stdout, []);
  });

  it('returns 3 for not-found and 5 for unavailable', () => {
    const notFoundOut = fakeOutput();
    assert.equal(renderError(notFoundOut, notFound('no berth.yaml at x')), 3);
    assert.deepEqual(notFoundOut.stderr, ['error (not found): no berth.yaml at x']);

    const unavailableOut = fakeOutput();
    assert.equal(renderError(unavailableOut, unavailable('cannot reach the Docker Engine', { fix: 'start it' })), 5);
    assert.deepEqual(unavailableOut.stderr, ['error (unavailable): cannot reach the Docker Engine', '  fix: start it']);
  });

  it('prints the extra lines indented between the message and the fix', () => {
    const output = fakeOutput();
    assert.equal(renderError(output, failed('jdk: the build failed', { lines: ['step one', 'step two'], fix: 'look at static.sh' })), 1);
    assert.deepEqual(output.stderr, ['error (failed): jdk: the build failed', '    step one', '    step two', '  fix: look at static.sh']);
  });

  it('prints a count line and one "- " line per problem for several problems', () => {
    const output = fakeOutput();
    const error = new BerthErrors([invalid('first', { fix: 'fix the first' }), invalid('second'), invalid('third', { fix: 'fix the third' })]);
    assert.equal(renderError(output, error), 2);
    assert.deepEqual(output.stderr, ['error (invalid input): 3 problems', '- first', '  fix: fix the first', '- second', '- third', '  fix: fix the third']);
    assert.equal(output.stderr.filter((l) => l.startsWith('- ')).length, 3);
  });

  it('prints a single wrapped problem like a plain error', () => {
    const output = fakeOutput();
    assert.equal(renderError(output, new BerthErrors([notFound('only one')])), 3);
    assert.deepEqual(output.stderr, ['error (not found): only one']);
  });

  it('returns 70 for anything that is not a Berth error, calling it a bug', () => {
    const output = fakeOutput();
    assert.equal(renderError(output, new TypeError('x is undefined')), 70);
    assert.deepEqual(output.stderr, ['error (internal): x is undefined', '  this is a bug in Berth; run again with --verbose for the stack trace']);

    const thrown = fakeOutput();
    assert.equal(renderError(thrown, 'a string'), 70);
    assert.equal(thrown.stderr[0], 'error (internal): a string');
  });

  it('adds the stack trace when verbose', () => {
    const output = fakeOutput();
    const error = new Error('boom');
    assert.equal(renderError(output, error, true), 70);
    assert.deepEqual(output.stderr, ['error (internal): boom', error.stack]);

    const berth = fakeOutput();
    renderError(berth, invalid('bad'), true);
    assert.equal(berth.stderr.length, 2);
    assert.match(berth.stderr[1]!, /^BerthError: bad\n\s+at /);
  });
});

describe('output helpers', () => {
  it('prints JSON on stdout, indented', () => {
    const output = fakeOutput();
    printJson(output, { a: [1] });
    assert.deepEqual(output.stdout, ['{\n  "a": [\n    1\n  ]\n}']);
  });

  it('aligns table columns and leaves the last one unpadded', () => {
    assert.equal(table([['NAME', 'STATE'], ['jdk17', 'up to date'], ['a', 'b']]), 'NAME   STATE\njdk17  up to date\na      b');
  });

  it('formats sizes and durations', () => {
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1500), '1.5 kB');
    assert.equal(formatBytes(123_456_789), '123 MB');
    assert.equal(formatDuration(250), '250 ms');
    assert.equal(formatDuration(1500), '1.5 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatDuration(119_600), '2 min 0 s');
    assert.equal(formatDuration(59_960), '1 min 0 s');
    assert.equal(formatBytes(999_999), '1.0 MB');
  });
});
