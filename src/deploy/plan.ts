/**
 * What a deploy does to each slot, computed from what should run and what the
 * engines report. Pure, so every reconciliation rule is unit-tested without Docker.
 */
import type { Placement } from './slots.js';

export interface DesiredInstance extends Placement {
  /** Hash of everything the container is created from; equal hashes mean an equal container. */
  specHash: string;
}

export interface ObservedInstance {
  id: string;
  /** The container's name. */
  name: string;
  /** Its slot label. */
  slot: string;
  host: string;
  running: boolean;
  restarting: boolean;
  exitCode: number;
  specHash: string;
}

export type Step =
  | { action: 'keep'; slot: string; host: string; id: string; reason: string }
  | { action: 'create'; slot: string; host: string; reason: string }
  | { action: 'replace'; slot: string; host: string; id: string; reason: string }
  /** `leftover`: holds a desired slot's name or place, so it goes before anything starts; otherwise surplus, removed after success. */
  | { action: 'remove'; slot: string; host: string; id: string; reason: string; leftover: boolean };

/** A container left by an interrupted replace is named after its slot with this suffix. */
export const PREVIOUS_SUFFIX = '-prev';

export function planDeploy(desired: readonly DesiredInstance[], observed: readonly ObservedInstance[], options: { force?: boolean } = {}): Step[] {
  const steps: Step[] = [];
  const claimed = new Set<string>();
  for (const want of desired) {
    const current = observed.find((o) => o.name === want.slot && o.slot === want.slot && o.host === want.host);
    if (!current) {
      steps.push({ action: 'create', slot: want.slot, host: want.host, reason: 'new instance' });
      continue;
    }
    claimed.add(current.id);
    const base = { slot: want.slot, host: want.host, id: current.id };
    if (current.specHash !== want.specHash) steps.push({ ...base, action: 'replace', reason: 'image or configuration changed' });
    else if (!current.running || current.restarting) steps.push({ ...base, action: 'replace', reason: `not running (last exit code ${current.exitCode})` });
    else if (options.force) steps.push({ ...base, action: 'replace', reason: 'forced' });
    else steps.push({ ...base, action: 'keep', reason: 'up to date and running' });
  }
  const wanted = new Map(desired.map((d) => [d.slot, d]));
  for (const o of observed) {
    if (claimed.has(o.id)) continue;
    const want = wanted.get(o.slot);
    const reason = o.name.endsWith(PREVIOUS_SUFFIX)
      ? 'left over from an interrupted deploy'
      : !want
        ? 'not desired (above the replica count, or no longer in the environment)'
        : want.host !== o.host
          ? `moved to host ${want.host}`
          : `a second container for slot ${o.slot}`;
    steps.push({ action: 'remove', slot: o.slot, host: o.host, id: o.id, reason, leftover: want !== undefined });
  }
  return steps;
}

/** Summary counts for messages: "2 kept, 1 replaced, ...". */
export function describeSteps(steps: readonly Step[]): string {
  const count = (a: Step['action']) => steps.filter((s) => s.action === a).length;
  const parts = [
    [count('create'), 'created'],
    [count('replace'), 'replaced'],
    [count('keep'), 'kept'],
    [count('remove'), 'removed'],
  ].filter(([n]) => (n as number) > 0);
  return parts.length === 0 ? 'nothing to do' : parts.map(([n, what]) => `${n} ${what}`).join(', ');
}
