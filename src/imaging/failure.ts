/**
 * Follows a build's output to name the failing static.sh line and keep the
 * last lines worth showing. The line trace (on stderr) is read here and never displayed.
 */
import type { BuildLine } from '../engine/images.js';
import { TRACE_LINE, TRACE_SETUP } from './assets.js';

export interface BuildFailure {
  image: string;
  message: string;
  /** 1-based line of static.sh that was running when the build failed. */
  line?: number;
  /** That line's text, from the file on disk. */
  source?: string;
  tail: string[];
}

const TAIL = 15;
/** Engine step headers and housekeeping that say nothing about the failure. */
const NOISE = /^(Step \d+\/\d+ :| ---> |Removing intermediate container|Sending build context)/;

export class OutputTracker {
  private lastTraced: number | undefined;
  private readonly tail: string[] = [];

  /**
   * Takes one line; returns its text when it should be shown, undefined for trace lines.
   * Only stderr carries the trace: a script's stdout may print anything.
   */
  take(line: BuildLine): string | undefined {
    const { text } = line;
    if (line.kind === 'output' && line.stream === 'stderr') {
      const trace = TRACE_LINE.exec(text);
      if (trace) {
        this.lastTraced = Number(trace[1]);
        return undefined;
      }
      if (TRACE_SETUP.test(text)) return undefined;
    }
    if (!NOISE.test(text)) {
      this.tail.push(text);
      if (this.tail.length > TAIL) this.tail.shift();
    }
    return text;
  }

  failure(image: string, engineMessage: string, staticScript: string): BuildFailure {
    const exit = /non-zero code: (\d+)/.exec(engineMessage)?.[1];
    const base: BuildFailure = { image, message: '', tail: [...this.tail] };
    if (this.lastTraced === undefined) {
      return { ...base, message: `${image}: the build failed: ${engineMessage}` };
    }
    const source = staticScript.split('\n')[this.lastTraced - 1]?.trim();
    return {
      ...base,
      line: this.lastTraced,
      ...(source !== undefined ? { source } : {}),
      message: `${image}: images/${image}/static.sh:${this.lastTraced} failed${exit ? ` with exit code ${exit}` : ''}${source ? `: ${source}` : ''}`,
    };
  }
}

/** Carries a failure out of the engine call to the executor, which reports it. */
export class ImageBuildError extends Error {
  constructor(readonly failure: BuildFailure) {
    super(failure.message);
  }
}
