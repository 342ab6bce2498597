import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ashTrace, engineMessages, httpChunks, type Written } from '../testing/build-stream.js';
import { prng } from '../testing/prng.js';
import { BuildOutputLines, readBuildStream, type BuildLine } from './build-output.js';

const ENGINE_ERROR = "The command '/opt/berth/bin/run-static jdk' returned a non-zero code: 7";

/**
 * Docker 20.10's answer for a failing static.sh on a loaded machine: busybox
 * ash wrote the trace of line 3 word by word, and the stdout lines came
 * between its pieces. Read as one stream, "starting" and "about to fail" were
 * lost inside trace lines and " fail" was shown (issue 19).
 */
const CAPTURED = [
  { stream: ' ---> Running in c73c41b0b8e0\n' },
  { stream: '\x1b[91m+[berth-line:2] echo starting\n+[berth-line:3] \x1b[0m' },
  { stream: '\x1b[91mecho about to\x1b[0m' },
  { stream: 'starting\n' },
  { stream: 'about to fail\n' },
  { stream: '\x1b[91m fail\n+[berth-line:4] exit 7\nberth: images/jdk/static.sh failed with exit code 7\n\x1b[0m' },
  { stream: 'Removing intermediate container c73c41b0b8e0\n' },
  { errorDetail: { code: 7, message: ENGINE_ERROR }, error: ENGINE_ERROR },
];

async function read(stream: Readable): Promise<{ lines: BuildLine[]; imageId: string | undefined; error: string | undefined }> {
  const lines: BuildLine[] = [];
  const result = await readBuildStream(stream, (line) => lines.push(line));
  return { lines, ...result };
}

const json = (messages: readonly object[]) => Readable.from([messages.map((m) => `${JSON.stringify(m)}\r\n`).join('')]);
const out = (text: string): BuildLine => ({ kind: 'output', stream: 'stdout', text });
const err = (text: string): BuildLine => ({ kind: 'output', stream: 'stderr', text });
const byStream = (lines: BuildLine[], stream: 'stdout' | 'stderr') => lines.flatMap((l) => (l.kind === 'output' && l.stream === stream ? [l.text] : []));

describe('readBuildStream', () => {
  it('keeps a stdout line whole when it comes between the pieces of a trace line (the capture of issue 19)', async () => {
    const { lines, error } = await read(json(CAPTURED));
    assert.deepEqual(lines, [
      out(' ---> Running in c73c41b0b8e0'),
      err('+[berth-line:2] echo starting'),
      out('starting'),
      out('about to fail'),
      err('+[berth-line:3] echo about to fail'),
      err('+[berth-line:4] exit 7'),
      err('berth: images/jdk/static.sh failed with exit code 7'),
      out('Removing intermediate container c73c41b0b8e0'),
      { kind: 'error', text: ENGINE_ERROR },
    ]);
    assert.equal(error, ENGINE_ERROR);
  });

  it('gives the same lines however the HTTP chunks cut the answer, inside a JSON object or a UTF-8 character', async () => {
    const messages = [...CAPTURED.slice(0, 3), { stream: 'déjà vu 🚢 日本\n' }, ...CAPTURED.slice(3)];
    const whole = (await read(json(messages))).lines;
    assert.ok(whole.some((l) => l.text === 'déjà vu 🚢 日本'));
    for (let seed = 1; seed <= 50; seed++) {
      assert.deepEqual((await read(httpChunks(messages, prng(seed), 7))).lines, whole, `seed ${seed}`);
    }
  });

  it('returns the image ID of the aux message', async () => {
    const { imageId, error } = await read(json([{ stream: 'Step 1/1 : FROM x' }, { stream: '\n' }, { aux: { ID: 'sha256:abc' } }, { stream: 'Successfully built abc\n' }]));
    assert.equal(imageId, 'sha256:abc');
    assert.equal(error, undefined);
  });

  it('ends a line the script left unfinished before the engine reports its error', async () => {
    const { lines } = await read(json([{ stream: 'disk full' }, { stream: '\x1b[91mfatal: no space\x1b[0m' }, { error: ENGINE_ERROR }]));
    assert.deepEqual(lines, [out('disk full'), err('fatal: no space'), { kind: 'error', text: ENGINE_ERROR }]);
  });

  /**
   * A seeded model of the engine: a script's writes (busybox's word-by-word
   * trace, its own colours, progress meters, lines that look like a trace on
   * stdout, non-ASCII text), cut into messages anywhere, the two streams in any
   * order, the answer in HTTP chunks of any size. A failing seed replays exactly.
   */
  it('gives each stream exactly its lines, however the engine cuts and interleaves them', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const { writes, stdout, stderr } = scriptOutput(random);
      const messages = [{ stream: ' ---> Running in 0123456789ab\n' }, ...engineMessages(writes, random).map((stream) => ({ stream })), { stream: 'Removing intermediate container 0123456789ab\n' }];
      const { lines } = await read(httpChunks(messages, random));
      assert.deepEqual(byStream(lines, 'stderr'), stderr, `seed ${seed}: stderr`);
      assert.deepEqual(byStream(lines, 'stdout'), [' ---> Running in 0123456789ab', ...stdout, 'Removing intermediate container 0123456789ab'], `seed ${seed}: stdout`);
    }
  });
});

describe('BuildOutputLines', () => {
  it('shows a progress meter as its last state and drops the terminal control codes', () => {
    const lines = new BuildOutputLines();
    assert.deepEqual(lines.push('\x1b[32mfetching\x1b[0m  10%\r\x1b[Kfetching  55%\r'), []);
    assert.deepEqual(lines.push('fetching 100%\r\n'), [out('fetching 100%')]);
    assert.deepEqual(lines.push('\x1b[91m\x1b[1mwarning\x1b[0m: slow mirror\r\n\x1b[0m'), [err('warning: slow mirror')]);
  });

  it('joins a control code cut between two messages before removing it', () => {
    const lines = new BuildOutputLines();
    assert.deepEqual([...lines.push('\x1b[3'), ...lines.push('1mred\x1b[0m\n')], [out('red')]);
  });

  it('ends what a step left unfinished at the engine\'s next line, instead of joining them', () => {
    const lines = new BuildOutputLines();
    assert.deepEqual(lines.push('done, no newline'), []);
    assert.deepEqual(lines.push(' ---> 0123456789ab\n'), [out('done, no newline'), out(' ---> 0123456789ab')]);
    assert.deepEqual([...lines.push('Step 2/3 : RUN x'), ...lines.push('\n')], [out('Step 2/3 : RUN x')]);
  });

  it('drops blank lines and gives the rest at the end', () => {
    const lines = new BuildOutputLines();
    assert.deepEqual(lines.push('\n  \n'), []);
    assert.deepEqual(lines.push('\x1b[91m\n\x1b[0m'), []);
    assert.deepEqual(lines.push('\x1b[91mlast words\x1b[0m'), []);
    assert.deepEqual(lines.push('tail'), []);
    assert.deepEqual(lines.end(), [out('tail'), err('last words')]);
    assert.deepEqual(lines.end(), []);
  });
});

/** A random script's writes, and the lines each stream should show. */
function scriptOutput(random: () => number): { writes: Written[]; stdout: string[]; stderr: string[] } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const words = ['about', 'to', 'fail', 'déjà', 'vu', '日本', '🚢', 'x', '+[berth-line:9]', '---', 'a=1'];
  const sentence = () => Array.from({ length: 1 + Math.floor(random() * 5) }, () => pick(words)).join(' ');
  const writes: Written[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (let n = 1; n <= 1 + Math.floor(random() * 12); n++) {
    const command = `echo ${sentence()}`;
    writes.push(...ashTrace(n, command));
    stderr.push(`+[berth-line:${n}] ${command}`);
    const said = sentence();
    const kind = random();
    if (kind < 0.15) {
      writes.push({ stream: 'stdout', text: `\x1b[32m${said}\x1b[0m\n` });
      stdout.push(said);
    } else if (kind < 0.3) {
      writes.push({ stream: 'stdout', text: `0%\r\x1b[K50%\r${said}\r\n` });
      stdout.push(said);
    } else if (kind < 0.45) {
      writes.push({ stream: 'stderr', text: `warning: ${said}\n` });
      stderr.push(`warning: ${said}`);
    } else {
      writes.push({ stream: 'stdout', text: `${said}\n` });
      stdout.push(said);
    }
  }
  return { writes, stdout, stderr };
}
