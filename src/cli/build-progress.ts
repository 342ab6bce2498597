/**
 * Shows a build as it happens: a live tree on a terminal, one line per event
 * otherwise (CI logs, pipes).
 */
import type { BuildEvent } from '../imaging/builder.js';
import type { PlanEntry } from '../imaging/plan.js';
import { formatDuration, type Output } from './output.js';

type Status = { state: 'waiting' | 'building' | 'built' | 'up to date' | 'failed' | 'blocked'; note: string; started?: number };

export interface Progress {
  onEvent(event: BuildEvent): void;
  finish(): void;
}

export function buildProgress(output: Output, verbose: boolean): Progress {
  return output.isTTY ? new LiveTree(output) : new PlainLines(output, verbose);
}

class PlainLines implements Progress {
  constructor(
    private readonly output: Output,
    private readonly verbose: boolean,
  ) {}

  onEvent(event: BuildEvent): void {
    const say = (text: string) => this.output.out(`[${'image' in event ? event.image : 'plan'}] ${text}`);
    switch (event.type) {
      case 'plan':
        this.output.out(`plan: ${event.entries.filter((e) => e.action === 'build').length} to build, ${event.entries.filter((e) => e.action === 'skip').length} up to date`);
        break;
      case 'start':
        return say(`building: ${event.reason}`);
      case 'line':
        if (this.verbose) say(`| ${event.text}`);
        return;
      case 'skip':
        return say('up to date');
      case 'done':
        return say(`built ${event.tag} in ${formatDuration(event.durationMs)}`);
      case 'fail':
        return say('FAILED');
      case 'blocked':
        return say(`skipped: its ancestor "${event.because}" failed`);
    }
  }

  finish(): void {}
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

class LiveTree implements Progress {
  private entries: PlanEntry[] = [];
  private readonly status = new Map<string, Status>();
  private drawn = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly output: Output) {}

  onEvent(event: BuildEvent): void {
    if (event.type === 'plan') {
      this.entries = event.entries;
      for (const e of event.entries) this.status.set(e.name, { state: 'waiting', note: e.action === 'skip' ? '' : e.reason });
      this.timer = setInterval(() => this.draw(), 120);
      return;
    }
    const current = this.status.get(event.image) ?? { state: 'waiting', note: '' };
    const next: Record<Exclude<BuildEvent['type'], 'plan'>, () => Status> = {
      start: () => ({ state: 'building', note: event.type === 'start' ? event.reason : '', started: Date.now() }),
      line: () => ({ ...current, note: event.type === 'line' ? event.text : current.note }),
      skip: () => ({ state: 'up to date', note: '' }),
      done: () => ({ state: 'built', note: event.type === 'done' ? `${event.tag} in ${formatDuration(event.durationMs)}` : '' }),
      fail: () => ({ state: 'failed', note: event.type === 'fail' ? (event.failure.source ?? event.failure.message) : '' }),
      blocked: () => ({ state: 'blocked', note: event.type === 'blocked' ? `ancestor "${event.because}" failed` : '' }),
    };
    this.status.set(event.image, next[event.type]());
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
  }

  private draw(): void {
    const width = process.stdout.columns ?? 100;
    const lines = this.entries.map((entry) => {
      const s = this.status.get(entry.name)!;
      const depth = this.depth(entry.name);
      const mark = { waiting: '·', building: SPINNER[this.frame % SPINNER.length]!, built: '✔', 'up to date': '=', failed: '✘', blocked: '-' }[s.state];
      const elapsed = s.state === 'building' && s.started ? ` ${formatDuration(Date.now() - s.started)}` : '';
      return `${'  '.repeat(depth)}${mark} ${entry.name}  ${s.state}${elapsed}  ${s.note}`.slice(0, width - 1);
    });
    this.frame++;
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    process.stdout.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
    this.drawn = lines.length;
  }

  private depth(name: string): number {
    let depth = 0;
    let parent = this.entries.find((e) => e.name === name)?.parent;
    while (parent) {
      depth++;
      parent = this.entries.find((e) => e.name === parent)?.parent;
    }
    return depth;
  }
}
