/**
 * The classic builder's answer as lines. The engine copies the build
 * container's stdout and stderr in two goroutines and sends one `stream`
 * message per read, stderr wrapped in red (ESC[91m … ESC[0m). So one line can
 * come in several messages (busybox ash writes a trace line word by word),
 * messages of the other stream can come between its pieces, and the order
 * between the two streams is not kept. Each stream therefore keeps its own
 * unfinished line.
 */
import type { Readable } from 'node:stream';
import { readJsonStream } from './json-stream.js';

/**
 * One line of build output, or the engine's final error. The engine's own step
 * lines ("Step 2/4 : …") come on stdout; a script's trace comes on stderr.
 */
export type BuildLine = OutputLine | { kind: 'error'; text: string };
export type OutputLine = { kind: 'output'; stream: 'stdout' | 'stderr'; text: string };
type Stream = OutputLine['stream'];

const STDERR_START = '\x1b[91m';
const STDERR_END = '\x1b[0m';
/** Terminal control sequences: colours, erasing a line, moving the cursor. */
const CONTROL = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
/** The engine's lines around a step's container: what the container left unfinished ends there. */
const STEP_BOUNDARY = /^( ---> Running in [0-9a-f]+| ---> [0-9a-f]+|Removing intermediate container [0-9a-f]+)\n$/;

export class BuildOutputLines {
  private readonly partial: Record<Stream, string> = { stdout: '', stderr: '' };

  /** Takes one `stream` message; returns the lines it completes. */
  push(message: string): OutputLine[] {
    if (STEP_BOUNDARY.test(message)) return [...this.end(), ...this.split('stdout', message)];
    if (message.startsWith(STDERR_START) && message.endsWith(STDERR_END)) {
      return this.split('stderr', message.slice(STDERR_START.length, message.length - STDERR_END.length));
    }
    return this.split('stdout', message);
  }

  /** Takes text of one stream (a container's log, already apart); returns the lines it completes. */
  take(stream: Stream, text: string): OutputLine[] {
    return this.split(stream, text);
  }

  /** The lines left unfinished, when the step or the stream ends or the engine reports its error. */
  end(): OutputLine[] {
    return (['stdout', 'stderr'] as const).flatMap((stream) => {
      const rest = this.partial[stream];
      this.partial[stream] = '';
      return line(stream, rest);
    });
  }

  private split(stream: Stream, text: string): OutputLine[] {
    const pieces = (this.partial[stream] + text).split('\n');
    this.partial[stream] = pieces.pop() ?? '';
    return pieces.flatMap((piece) => line(stream, piece));
  }
}

/**
 * A line as a terminal would leave it: without control sequences, and after a
 * carriage return (a progress meter redrawing itself) only what came last. Blank lines are dropped.
 */
function line(stream: Stream, raw: string): OutputLine[] {
  const text = raw
    .replace(CONTROL, '')
    .split('\r')
    .filter((part) => part.trim() !== '')
    .at(-1);
  return text === undefined ? [] : [{ kind: 'output', stream, text }];
}

/** Reads a build's answer to its end, passing on each line as it completes; returns the image ID and the engine's error, if any. */
export async function readBuildStream(stream: Readable, onLine: (line: BuildLine) => void): Promise<{ imageId: string | undefined; error: string | undefined }> {
  const lines = new BuildOutputLines();
  const pass = (out: OutputLine[]) => out.forEach((l) => onLine(l));
  let imageId: string | undefined;
  let error: string | undefined;
  await readJsonStream(stream, (m) => {
    if (typeof m.stream === 'string') pass(lines.push(m.stream));
    const aux = m.aux as { ID?: string } | undefined;
    if (aux?.ID) imageId = aux.ID;
    if (m.error) {
      pass(lines.end());
      error = String(m.error);
      onLine({ kind: 'error', text: error });
    }
  });
  pass(lines.end());
  return { imageId, error };
}
