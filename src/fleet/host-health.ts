/**
 * Whether a host is alive, as the server's watcher decides it (pure, time injected): each
 * ping of the host's engine is a probe that answered or missed. `suspectAfter` misses in a
 * row make an `up` host `suspect`, `downAfter` make it `down` (its instances fail over). A
 * `down` host that answers again is `returning`: it gets no new work until it has answered
 * for `settleMs` without a miss (or an operator undrains it), and one miss while returning
 * makes it `down` again at once, so a flapping host never draws instances back and forth.
 */
import type { FailureSettings } from '../config/model.js';

export type HealthState = 'up' | 'suspect' | 'down' | 'returning';

export interface HostHealth {
  state: HealthState;
  /** When it entered its state (ms). */
  since: number;
  /** Misses in a row (0 after an answer). */
  misses: number;
  /** When it last answered, after its last miss (ms); undefined while it misses. */
  answeringSince?: number;
  /** The last miss's reason. */
  error?: string;
}

export interface Probe {
  ok: boolean;
  at: number;
  /** Why it missed. */
  error?: string;
}

export interface HealthChange {
  from: HealthState;
  to: HealthState;
  at: number;
  /** In words, for the event and the audit log. */
  reason: string;
}

/** A host never seen: up (as it was before the server watched it) since `now`. */
export function firstHealth(now: number): HostHealth {
  return { state: 'up', since: now, misses: 0, answeringSince: now };
}

export function nextHealth(current: HostHealth, probe: Probe, settings: Pick<FailureSettings, 'suspectAfter' | 'downAfter' | 'settleMs' | 'intervalMs'>): { health: HostHealth; change?: HealthChange } {
  if (probe.ok) return answered(current, probe.at, settings.settleMs);
  const misses = current.misses + 1;
  const missed: HostHealth = { ...current, misses, error: probe.error ?? 'no answer' };
  delete missed.answeringSince;
  const why = `${misses} ping(s) in a row missed, ${settings.intervalMs} ms apart: ${missed.error}`;
  if (current.state === 'returning') return moveTo(missed, 'down', probe.at, `it missed a ping while returning (${missed.error}): it stays out of the fleet`);
  if (current.state !== 'down' && misses >= settings.downAfter) return moveTo(missed, 'down', probe.at, why);
  if (current.state === 'up' && misses >= settings.suspectAfter) return moveTo(missed, 'suspect', probe.at, why);
  return { health: missed };
}

/** The operator undrained a returning (or down and now answering) host: it takes work again. */
export function undrained(current: HostHealth, now: number): { health: HostHealth; change?: HealthChange } {
  if (current.state !== 'returning') return { health: current };
  return moveTo({ ...current, misses: 0, answeringSince: current.answeringSince ?? now }, 'up', now, 'undrained by an operator');
}

/** Whether the host may get new instances. */
export function takesWork(health: HostHealth | undefined): boolean {
  return health === undefined || health.state === 'up' || health.state === 'suspect';
}

function answered(current: HostHealth, at: number, settleMs: number): { health: HostHealth; change?: HealthChange } {
  const answeringSince = current.answeringSince ?? at;
  const health: HostHealth = { ...current, misses: 0, answeringSince };
  delete health.error;
  switch (current.state) {
    case 'suspect':
      return moveTo(health, 'up', at, 'it answered again');
    case 'down':
      return moveTo(health, 'returning', at, `it answers again; it gets no new instances until it has answered for ${Math.round(settleMs / 1000)} s`);
    case 'returning':
      return at - answeringSince >= settleMs ? moveTo(health, 'up', at, `it has answered for ${Math.round((at - answeringSince) / 1000)} s`) : { health };
    default:
      return { health };
  }
}

function moveTo(health: HostHealth, to: HealthState, at: number, reason: string): { health: HostHealth; change: HealthChange } {
  return { health: { ...health, state: to, since: at }, change: { from: health.state, to, at, reason } };
}
