/**
 * What the engine may send for a classic build, made from what the build
 * container wrote, for unit tests of the build output. The engine copies the
 * container's stdout and stderr in two goroutines, one `stream` message per
 * read (stderr wrapped in red): a message may hold part of a write or several
 * writes of one stream, and the two streams come in any order. The JSON answer
 * then reaches us in HTTP chunks that end anywhere, inside a character too.
 */
import { Readable } from 'node:stream';

export type Written = { stream: 'stdout' | 'stderr'; text: string };
type Random = () => number;

const STDERR_START = '\x1b[91m';
const STDERR_END = '\x1b[0m';

/** The `stream` messages the writes may come as: each stream in order, cut anywhere, the two streams in any order. */
export function engineMessages(writes: readonly Written[], random: Random): string[] {
  const of = (stream: Written['stream']) =>
    cut(
      writes
        .filter((w) => w.stream === stream)
        .map((w) => w.text)
        .join(''),
      random,
    );
  const stderr = of('stderr').map((piece) => `${STDERR_START}${piece}${STDERR_END}`);
  return interleave(of('stdout'), stderr, random);
}

/** busybox ash's `set -x`: PS4, then each word and the newline as separate writes. */
export function ashTrace(line: number, command: string): Written[] {
  const words = command.split(' ');
  return [`+[berth-line:${line}] `, words[0]!, ...words.slice(1).map((w) => ` ${w}`), '\n'].map((text) => ({ stream: 'stderr', text }));
}

/** The build's JSON answer as HTTP chunks of 1 to `maxChunk` bytes. */
export function httpChunks(messages: readonly object[], random: Random, maxChunk = 48): Readable {
  const bytes = Buffer.from(messages.map((m) => `${JSON.stringify(m)}\r\n`).join(''));
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(random() * maxChunk);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return Readable.from(chunks);
}

/** The text in 1 to 4 code points long pieces, or whole. */
function cut(text: string, random: Random): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let at = 0; at < chars.length; ) {
    const size = random() < 0.2 ? chars.length : 1 + Math.floor(random() * 4);
    pieces.push(chars.slice(at, at + size).join(''));
    at += size;
  }
  return pieces;
}

function interleave(a: readonly string[], b: readonly string[], random: Random): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const fromA = j >= b.length || (i < a.length && random() < 0.5);
    out.push(fromA ? a[i++]! : b[j++]!);
  }
  return out;
}
