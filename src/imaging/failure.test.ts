import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageBuildError, OutputTracker } from './failure.js';

const SCRIPT = '#!/bin/sh\necho starting\n  echo about to fail  \nexit 7\necho never\n';
const ENGINE_MESSAGE = "The command '/opt/berth/bin/run-static jdk' returned a non-zero code: 7";

/** Feeds lines to a tracker and returns the ones it shows. */
function feed(tracker: OutputTracker, lines: string[]): string[] {
  return lines.map((line) => tracker.take(line)).filter((shown): shown is string => shown !== undefined);
}

describe('OutputTracker', () => {
  it('hides trace lines and names the last traced line with its text', () => {
    const tracker = new OutputTracker();
    const shown = feed(tracker, [
      "+ PS4='+[berth-line:${LINENO}] '",
      '+[berth-line:2] echo starting',
      'starting',
      '+[berth-line:3] echo about to fail',
      'about to fail',
      '+[berth-line:4] exit 7',
      'berth: images/jdk/static.sh failed with exit code 7',
    ]);
    assert.deepEqual(shown, ['starting', 'about to fail', 'berth: images/jdk/static.sh failed with exit code 7']);

    const failure = tracker.failure('jdk', ENGINE_MESSAGE, SCRIPT);
    assert.deepEqual(failure, {
      image: 'jdk',
      line: 4,
      source: 'exit 7',
      message: 'jdk: images/jdk/static.sh:4 failed with exit code 7: exit 7',
      tail: ['starting', 'about to fail', 'berth: images/jdk/static.sh failed with exit code 7'],
    });
  });

  it('reads nested traces (++) and trims the source line', () => {
    const tracker = new OutputTracker();
    assert.equal(tracker.take('++[berth-line:3] echo about to fail'), undefined);
    const failure = tracker.failure('jdk', 'returned a non-zero code: 1', SCRIPT);
    assert.equal(failure.line, 3);
    assert.equal(failure.source, 'echo about to fail');
    assert.equal(failure.message, 'jdk: images/jdk/static.sh:3 failed with exit code 1: echo about to fail');
  });

  it('leaves out the exit code when the engine gives none', () => {
    const tracker = new OutputTracker();
    tracker.take('+[berth-line:2] echo starting');
    assert.equal(tracker.failure('jdk', 'the build was cancelled', SCRIPT).message, 'jdk: images/jdk/static.sh:2 failed: echo starting');
  });

  it('falls back to the engine message without trace lines', () => {
    const tracker = new OutputTracker();
    feed(tracker, ['Step 1/4 : FROM sha256:abc', 'COPY failed: file not found']);
    const failure = tracker.failure('jdk', 'COPY failed: file not found in build context', SCRIPT);
    assert.deepEqual(failure, {
      image: 'jdk',
      message: 'jdk: the build failed: COPY failed: file not found in build context',
      tail: ['COPY failed: file not found'],
    });
    assert.equal(failure.line, undefined);
  });

  it('keeps at most the last 15 lines, without step headers and housekeeping', () => {
    const tracker = new OutputTracker();
    const noise = ['Step 3/7 : RUN ["/opt/berth/bin/run-static", "jdk"]', ' ---> Running in 0123456789ab', 'Removing intermediate container 0123456789ab', 'Sending build context to Docker daemon  2.048kB'];
    const output = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const shown = feed(tracker, [...noise, ...output.slice(0, 10), ...noise, ...output.slice(10)]);
    assert.equal(shown.length, noise.length * 2 + output.length, 'noise is still shown live');

    const { tail } = tracker.failure('jdk', ENGINE_MESSAGE, SCRIPT);
    assert.equal(tail.length, 15);
    assert.deepEqual(tail, output.slice(5));
  });

  it('carries the failure in an ImageBuildError', () => {
    const failure = new OutputTracker().failure('jdk', 'boom', SCRIPT);
    const error = new ImageBuildError(failure);
    assert.equal(error.message, 'jdk: the build failed: boom');
    assert.equal(error.failure, failure);
  });
});
