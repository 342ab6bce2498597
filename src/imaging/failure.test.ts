import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBuildStream } from '../engine/build-output.js';
import type { BuildLine } from '../engine/images.js';
import { ashTrace, engineMessages, httpChunks, type Written } from '../testing/build-stream.js';
import { prng } from '../testing/prng.js';
import { ImageBuildError, OutputTracker } from './failure.js';

const SCRIPT = '#!/bin/sh\necho starting\n  echo about to fail  \nexit 7\necho never\n';
const ENGINE_MESSAGE = "The command '/opt/berth/bin/run-static jdk' returned a non-zero code: 7";

const out = (text: string): BuildLine => ({ kind: 'output', stream: 'stdout', text });
const err = (text: string): BuildLine => ({ kind: 'output', stream: 'stderr', text });

/** Feeds lines to a tracker and returns the ones it shows. */
function feed(tracker: OutputTracker, lines: BuildLine[]): string[] {
  return lines.map((line) => tracker.take(line)).filter((shown): shown is string => shown !== undefined);
}

describe('OutputTracker', () => {
  it('hides trace lines and names the last traced line with its text', () => {
    const tracker = new OutputTracker();
    const shown = feed(tracker, [
      err("+ PS4='+[berth-line:${LINENO}] '"),
      err('+[berth-line:2] echo starting'),
      out('starting'),
      err('+[berth-line:3] echo about to fail'),
      out('about to fail'),
      err('+[berth-line:4] exit 7'),
      err('berth: images/jdk/static.sh failed with exit code 7'),
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
    assert.equal(tracker.take(err('++[berth-line:3] echo about to fail')), undefined);
    const failure = tracker.failure('jdk', 'returned a non-zero code: 1', SCRIPT);
    assert.equal(failure.line, 3);
    assert.equal(failure.source, 'echo about to fail');
    assert.equal(failure.message, 'jdk: images/jdk/static.sh:3 failed with exit code 1: echo about to fail');
  });

  it('leaves out the exit code when the engine gives none', () => {
    const tracker = new OutputTracker();
    tracker.take(err('+[berth-line:2] echo starting'));
    assert.equal(tracker.failure('jdk', 'the build was cancelled', SCRIPT).message, 'jdk: images/jdk/static.sh:2 failed: echo starting');
  });

  it('falls back to the engine message without trace lines', () => {
    const tracker = new OutputTracker();
    feed(tracker, [out('Step 1/4 : FROM sha256:abc'), out('COPY failed: file not found')]);
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
    const shown = feed(tracker, [...noise, ...output.slice(0, 10), ...noise, ...output.slice(10)].map(out));
    assert.equal(shown.length, noise.length * 2 + output.length, 'noise is still shown live');

    const { tail } = tracker.failure('jdk', ENGINE_MESSAGE, SCRIPT);
    assert.equal(tail.length, 15);
    assert.deepEqual(tail, output.slice(5));
  });

  it('reads a trace only on stderr: a script may print anything on stdout', () => {
    const tracker = new OutputTracker();
    const shown = feed(tracker, [err('+[berth-line:4] exit 7'), out('+[berth-line:2] echo starting'), out("+ PS4='x'")]);
    assert.deepEqual(shown, ['+[berth-line:2] echo starting', "+ PS4='x'"]);
    assert.equal(tracker.failure('jdk', ENGINE_MESSAGE, SCRIPT).line, 4);
  });

  /**
   * The build of issue 19 as the engine may send it (busybox ash writes a trace
   * line word by word; the engine sends stdout and stderr in any order, cut
   * anywhere; HTTP cuts the answer anywhere). Once the tail lost "starting" and
   * "about to fail" inside trace lines and showed a stray " fail".
   */
  it('names the failing line and keeps every script line, however the engine cuts and interleaves the output', async () => {
    const writes: Written[] = [
      ...ashTrace(2, 'echo starting'),
      { stream: 'stdout', text: 'starting\n' },
      ...ashTrace(3, 'echo about to fail'),
      { stream: 'stdout', text: 'about to fail\n' },
      ...ashTrace(4, 'exit 7'),
      { stream: 'stderr', text: 'berth: images/jdk/static.sh failed with exit code 7\n' },
    ];
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const messages = [
        { stream: 'Step 3/3 : RUN ["/opt/berth/bin/run-static", "jdk"]' },
        { stream: '\n' },
        { stream: ' ---> Running in 0123456789ab\n' },
        ...engineMessages(writes, random).map((stream) => ({ stream })),
        { stream: 'Removing intermediate container 0123456789ab\n' },
        { errorDetail: { code: 7, message: ENGINE_MESSAGE }, error: ENGINE_MESSAGE },
      ];
      const tracker = new OutputTracker();
      const shown: string[] = [];
      await readBuildStream(httpChunks(messages, random), (line) => {
        const text = tracker.take(line);
        if (text !== undefined && line.kind === 'output') shown.push(text);
      });
      const failure = tracker.failure('jdk', ENGINE_MESSAGE, SCRIPT);
      assert.equal(failure.message, 'jdk: images/jdk/static.sh:4 failed with exit code 7: exit 7', `seed ${seed}`);
      const said = ['starting', 'about to fail', 'berth: images/jdk/static.sh failed with exit code 7'];
      assert.deepEqual(failure.tail.filter((l) => l !== 'berth: images/jdk/static.sh failed with exit code 7'), ['starting', 'about to fail', ENGINE_MESSAGE], `seed ${seed}: ${failure.tail.join(' / ')}`);
      assert.deepEqual([...failure.tail].sort(), [...said, ENGINE_MESSAGE].sort(), `seed ${seed}: ${failure.tail.join(' / ')}`);
      assert.deepEqual([...shown].sort(), [...said, 'Step 3/3 : RUN ["/opt/berth/bin/run-static", "jdk"]', ' ---> Running in 0123456789ab', 'Removing intermediate container 0123456789ab'].sort(), `seed ${seed}`);
    }
  });

  it('carries the failure in an ImageBuildError', () => {
    const failure = new OutputTracker().failure('jdk', 'boom', SCRIPT);
    const error = new ImageBuildError(failure);
    assert.equal(error.message, 'jdk: the build failed: boom');
    assert.equal(error.failure, failure);
  });
});
