/**
 * What a deploy does to each slot, computed from what should run and what the
 * engines report. Pure, so every reconciliation rule is unit-tested without Docker.
 */
import type { RolloutStep } from '../rollout/rollout-plan.js';
import type { ObservedInstance } from '../runtime/observe.js';
import type { Placement } from '../runtime/slots.js';

export interface DesiredInstance extends Placement {
  /** Hash of everything the container is created from; equal hashes mean an equal container. */
  specHash: string;
}

export type Step =
  | { action: 'keep'; slot: string; host: string; id: string; reason: string }
  | { action: 'create'; slot: string; host: string; reason: string }
  | { action: 'replace'; slot: string; host: string; id: string; reason: string }
  /** `leftover`: holds a desired slot's name or place, so it goes before anything starts; otherwise surplus, removed after success. */
  | { action: 'remove'; slot: string; host: string; id: string; reason: string; leftover: boolean };


export function planDeploy(desired: readonly DesiredInstance[], observed: readonly ObservedInstance[], options: { force?: boolean } = {}): Step[] {
  const steps: Step[] = [];
  const claimed = new Set<string>();
  for (const want of desired) {
    const current = observed.find((o) => o.role === 'main' && o.slot === want.slot && o.host === want.host);
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
    const reason = o.role === 'aside'
      ? 'left over from an interrupted deploy'
      : !want
        ? 'not desired (above the replica count, or no longer in the environment)'
        : want.host !== o.host
          ? `moved to host ${want.host}`
          : o.role === 'stray'
            ? `a container of slot ${o.slot} under another name (${o.name})`
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

/**
 * `berth deploy` as rollout steps: new slots first, then the first replacement
 * alone (if the new version cannot start, one slot was touched), then the other
 * replacements together, surplus slots removed, and a converge on `replicas`
 * that removes leftovers. No front door steps: a deploy has none.
 */
export function deploySteps(steps: readonly Step[], replicas: number, options: { force?: boolean } = {}): RolloutStep[] {
  const slots = (action: Step['action'], test: (s: Step) => boolean = () => true) => [...new Set(steps.filter((s) => s.action === action && test(s)).map((s) => s.slot))];
  const create = slots('create');
  const replace = slots('replace');
  const surplus = slots('remove', (s) => s.action === 'remove' && !s.leftover).filter((slot) => !create.includes(slot) && !replace.includes(slot));
  const force = options.force ? { force: true } : {};
  // Every slot up to date and running, nothing left over: no rollout at all (a second deploy records nothing).
  if (steps.every((s) => s.action === 'keep')) return [];
  const plan: RolloutStep[] = [];
  if (create.length > 0) plan.push({ op: 'create', slots: create });
  if (replace.length > 0) plan.push({ op: 'replace', slots: replace.slice(0, 1), ...force });
  if (replace.length > 1) plan.push({ op: 'replace', slots: replace.slice(1), ...force });
  if (surplus.length > 0) plan.push({ op: 'remove', slots: surplus });
  plan.push({ op: 'converge', replicas });
  return plan;
}
