/**
 * The server's watch over every host of the fleet: a ping of each engine every
 * `fleet.failure.interval`, and its event stream followed, so a stream that breaks asks for
 * the next pings at once. Each ping is a probe for host-health.ts (pure), which decides the
 * state; a change is stored (store/host-health.ts), sent as an event and written to the
 * audit log, and `onChange` acts on it (the failover). `afterTick` runs after every round of
 * pings (the failover's pass: instances still waiting for room are placed once there is).
 * The store wins over this process's memory: a state changed elsewhere (an operator's
 * undrain) is taken up at the next round. Never two rounds at once.
 */
import { pauseUnless } from '../time.js';
import type { FailureSettings } from '../config/model.js';
import type { RunContext } from '../runtime/context.js';
import { reasonOf } from '../runtime/reach.js';
import { hostHealth, setHostHealth, type HostHealthRecord } from '../store/host-health.js';
import { firstHealth, nextHealth, type HealthChange, type HostHealth } from './host-health.js';

export interface HostHealthEvent {
  type: 'host-health';
  host: string;
  from: HealthChange['from'];
  to: HealthChange['to'];
  at: string;
  reason: string;
}

export interface HostWatchOptions {
  emit?: (event: HostHealthEvent) => void;
  audit?: (entry: { action: string; target: string; outcome: 'succeeded'; params: Record<string, unknown> }) => void | Promise<void>;
  /** Runs before a change is stored: a host is `returning` only once its stale instances are gone. */
  onChange?: (run: RunContext, host: string, change: HealthChange) => Promise<void>;
  afterTick?: (run: RunContext) => Promise<void>;
  /** The clock (tests pass their own). */
  now?: () => number;
  /** Overrides `fleet.failure` (tests). */
  settings?: Partial<FailureSettings>;
  /** A round failed as a whole (the store): reported, and the watch goes on. */
  onError?: (error: unknown) => void;
}

export interface HostWatch {
  /** One round of pings now (or right after the one running). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Rounds start every `interval` from the start of the one before, not `interval` after its end: a
 * round waits up to `timeout` on a silent host, and counting the interval from its end made each
 * miss cost interval + timeout (3.5 s by default), so a dead host took down_after × 3.5 s (14 s)
 * to be down instead of the 8 s the settings say. Rounds never overlap: a round longer than the
 * interval is followed at once.
 */
export function nextRoundIn(startedAtMs: number, nowMs: number, intervalMs: number): number {
  return Math.max(0, startedAtMs + intervalMs - nowMs);
}

export function startHostWatch(getRun: () => Promise<RunContext | undefined>, options: HostWatchOptions = {}): HostWatch {
  const now = options.now ?? Date.now;
  const memory = new Map<string, HostHealth>();
  const followers = new Map<string, AbortController>();
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let interval = options.settings?.intervalMs ?? 2000;

  const round = async (): Promise<void> => {
    const run = await getRun();
    if (!run) return;
    const settings = { ...run.project.failure, ...options.settings };
    interval = settings.intervalMs;
    follow(run);
    const stored = await hostHealth(run.db);
    await Promise.all(run.project.hosts.map((h) => probeHost(run, h.name, settings, stored.get(h.name))));
    await options.afterTick?.(run);
  };

  async function probeHost(run: RunContext, host: string, settings: FailureSettings, stored: HostHealthRecord | undefined): Promise<void> {
    const current = adopt(memory.get(host), stored, settings) ?? firstHealth(now());
    let probe;
    try {
      await run.hosts.engine(host).ping(settings.timeoutMs);
      probe = { ok: true, at: now() };
    } catch (error) {
      probe = { ok: false, at: now(), error: reasonOf(error) };
    }
    const { health, change } = nextHealth(current, probe, settings);
    if (change) {
      await options.onChange?.(run, host, change);
      await setHostHealth(run.db, { name: host, state: change.to, since: change.at, reason: change.reason });
      options.emit?.({ type: 'host-health', host, from: change.from, to: change.to, at: new Date(change.at).toISOString(), reason: change.reason });
      await options.audit?.({ action: `host.${change.to}`, target: host, outcome: 'succeeded', params: { from: change.from, reason: change.reason } });
    }
    memory.set(host, health);
  }

  /** What memory knows, unless the store says otherwise (another process changed it): then the store's state. */
  function adopt(known: HostHealth | undefined, stored: HostHealthRecord | undefined, settings: FailureSettings): HostHealth | undefined {
    if (!stored) return known;
    if (known && known.state === stored.state) return known;
    // A down host found in the store (a restarted server) keeps its misses: one answer makes it returning, not up.
    return { state: stored.state, since: stored.since, misses: stored.state === 'down' ? settings.downAfter : 0, ...(stored.state === 'down' ? {} : { answeringSince: stored.since }) };
  }

  /** A host's event stream: when it breaks (the engine or the link went), the next round starts now. */
  function follow(run: RunContext): void {
    const wanted = new Set(run.project.hosts.map((h) => `${h.name}\0${h.engine}`));
    for (const [key, controller] of followers) {
      if (wanted.has(key)) continue;
      controller.abort();
      followers.delete(key);
    }
    for (const key of wanted) {
      if (followers.has(key) || stopped) continue;
      const controller = new AbortController();
      followers.set(key, controller);
      void followHost(run, key.split('\0')[0]!, controller.signal);
    }
  }

  async function followHost(run: RunContext, host: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !stopped) {
      let answered = false;
      try {
        for await (const _event of run.hosts.engine(host).events({ type: ['container'] }, signal)) answered = true;
      } catch {
        // Broken: the pings decide what it means.
      }
      if (signal.aborted || stopped) return;
      // A stream that ended after it had answered is news; one that never opened is the pings' to count.
      if (answered || memory.get(host)?.state === 'up') void tick().catch(() => {});
      await pauseUnless(interval, signal);
    }
  }

  const tick = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    clearTimeout(timer);
    const startedAt = Date.now();
    running = round()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          void tick();
        } else schedule(nextRoundIn(startedAt, Date.now(), interval));
      });
    return running;
  };

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => void tick(), delayMs);
    timer.unref();
  }

  void tick();
  return {
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const controller of followers.values()) controller.abort();
      followers.clear();
      await running;
    },
  };
}
