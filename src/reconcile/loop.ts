/**
 * The reconciler running: a pass every `intervalMs`, and one soon after an
 * engine reports a container of the project died or was removed (its event
 * stream, debounced; front doors are containers of the project too). Never two passes at once: a pass asked for while one
 * runs follows it (several such asks make one). A pass that throws is
 * reported and the loop goes on; stop() waits for the pass that runs.
 */
import { pauseUnless } from '../time.js';
import type { RunContext } from '../runtime/context.js';
import { RUN_LABELS } from '../runtime/labels.js';
import { isBerthError } from '../errors.js';
import { RepairBackoff } from './backoff.js';
import type { Drift } from './plan.js';
import { reconcileOnce, type ReconcileAuditEntry, type ReconcileEvent, type ReconcileReport } from './reconcile.js';

export type ReconcilerEvent =
  | ReconcileEvent
  /** Drift that the previous pass did not report (each once, until it is gone and comes back). */
  | ({ type: 'drift' } & Drift)
  /** A pass that failed as a whole (the store, a bug): the loop goes on. */
  | { type: 'reconcile-failed'; message: string };

export interface ReconcilerOptions {
  /** Between the end of a pass and the next (default 10 s). */
  intervalMs?: number;
  /** How long engine events are collected before they start a pass (default 500 ms). */
  debounceMs?: number;
  emit?: (event: ReconcilerEvent) => void;
  audit?: (entry: ReconcileAuditEntry) => void | Promise<void>;
  /** Per recreated instance, until healthy. */
  timeoutMs?: number;
}

export interface Reconciler {
  /** Stops the timer and the event streams, and waits for the pass that runs. */
  stop(): Promise<void>;
  /** A pass now, or right after the one that runs; rejects when the pass fails. */
  runNow(): Promise<ReconcileReport>;
}

const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_DEBOUNCE_MS = 500;

export function startReconciler(getRun: () => Promise<RunContext | undefined>, options: ReconcilerOptions = {}): Reconciler {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const emit = options.emit ?? (() => {});
  let stopped = false;
  let active: Promise<ReconcileReport> | undefined;
  let queued: Promise<ReconcileReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let reported = new Set<string>();
  const followers = new Map<string, AbortController>();
  const backoff = new RepairBackoff(Math.max(intervalMs, 1000));
  /** A pass asked for by name (runNow) tries every repair again, held back or not. */
  let forceNext = false;

  const pass = async (): Promise<ReconcileReport> => {
    const run = await getRun();
    if (!run) {
      const now = new Date().toISOString();
      return { startedAt: now, finishedAt: now, actions: [], drift: [] };
    }
    follow(run);
    if (forceNext) backoff.retryAllNow();
    forceNext = false;
    const report = await reconcileOnce(run, {
      emit,
      backoff,
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    const now = new Set<string>();
    for (const d of report.drift) {
      const key = driftKey(d);
      now.add(key);
      if (!reported.has(key)) emit({ type: 'drift', ...d });
    }
    reported = now;
    return report;
  };

  const runNow = (): Promise<ReconcileReport> => {
    if (!active) {
      clearTimeout(timer);
      active = pass().finally(() => {
        active = undefined;
        schedule();
      });
      return active;
    }
    queued ??= active
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        if (stopped) throw new Error('the reconciler is stopped');
        return runNow();
      });
    return queued;
  };

  /** A pass from the timer or an event: its failure is reported, never thrown. */
  const background = () => {
    if (stopped) return;
    runNow().catch((error: unknown) => emit({ type: 'reconcile-failed', message: messageOf(error) }));
  };

  function schedule(): void {
    clearTimeout(timer);
    if (stopped || queued) return;
    timer = setTimeout(background, intervalMs);
    timer.unref();
  }

  const poke = () => {
    if (stopped) return;
    clearTimeout(debounce);
    debounce = setTimeout(background, debounceMs);
    debounce.unref();
  };

  /**
   * One event stream per host of the project (containers of the project that die or are removed, front doors
   * included), and the build engine's when it is none of them (the single-machine front doors run there);
   * hosts no longer there are let go.
   */
  function follow(run: RunContext): void {
    const wanted = new Map<string, string | undefined>(run.project.hosts.map((h) => [`${run.project.name}\0${h.name}\0${h.engine}`, h.name]));
    if (!run.project.hosts.some((h) => run.hosts.isBuildEngine(h.name))) wanted.set(`${run.project.name}\0\0${run.hosts.buildEngine().endpoint}`, undefined);
    for (const [key, controller] of followers) {
      if (wanted.has(key)) continue;
      controller.abort();
      followers.delete(key);
    }
    for (const [key, host] of wanted) {
      if (followers.has(key) || stopped) continue;
      const controller = new AbortController();
      followers.set(key, controller);
      void followHost(run.project.name, host, controller.signal);
    }
  }

  /** `host` undefined: the build engine. */
  async function followHost(project: string, host: string | undefined, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        // The engine of the run as it is now: a new configuration may have new clients.
        const hosts = (await getRun())?.hosts;
        const engine = host === undefined ? hosts?.buildEngine() : hosts?.engine(host);
        if (engine) {
          for await (const _event of engine.events({ type: ['container'], event: ['die', 'destroy'], label: [`${RUN_LABELS.project}=${project}`] }, signal)) poke();
        }
      } catch {
        // The host went away (or is not in the configuration any more): the periodic pass reports it; follow again later.
      }
      await pauseUnless(intervalMs, signal);
    }
  }


  schedule();
  // The first pass at once: after a restart of the machine, front doors come back without waiting for the interval.
  background();

  return {
    runNow: () => {
      if (stopped) return Promise.reject(new Error('the reconciler is stopped'));
      forceNext = true;
      return runNow();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(debounce);
      for (const controller of followers.values()) controller.abort();
      followers.clear();
      await Promise.allSettled([active, queued]);
    },
  };
}

function driftKey(d: Drift): string {
  return [d.kind, d.service ?? '', d.environment ?? '', d.slot ?? '', d.host ?? ''].join('\0');
}

function messageOf(error: unknown): string {
  if (isBerthError(error)) return [error.message, ...error.lines].join('; ');
  return error instanceof Error ? error.message : String(error);
}
