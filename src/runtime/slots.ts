/** Instance identity and placement, as plain data: no engine, no store. */

/**
 * A slot is `<service>-<env>-<n>`: the instance's name in Berth's commands,
 * its hostname, its front door server and the owner of its address. Names may
 * contain '-', so a project where two service × environment pairs would make
 * the same slots is refused at load (config/name-collisions.ts `nameCollisions`).
 */
export function slotName(service: string, environment: string, ordinal: number): string {
  return `${service}-${environment}-${ordinal}`;
}

/**
 * The container's name on the engine carries the project, after a '.' that no
 * project name contains, so two projects with the same service and
 * environment names run side by side on one engine.
 */
export function containerName(project: string, slot: string): string {
  return `${project}.${slot}`;
}

/** A replaced container is set aside under this name until its successor is healthy. */
export function asideName(project: string, slot: string): string {
  return `${containerName(project, slot)}${PREVIOUS_SUFFIX}`;
}

/** Slot ordinals are digits, so this suffix never makes another slot's name. */
export const PREVIOUS_SUFFIX = '-prev';

/** What a container of the slot is, by its name: the slot's own, a set-aside one, or a stray (an old name, a second container). */
export function roleOf(project: string, slot: string, name: string): 'main' | 'aside' | 'stray' {
  if (name === containerName(project, slot)) return 'main';
  if (name === asideName(project, slot)) return 'aside';
  return 'stray';
}

/** `hello-node-production-3` → 3. */
export function ordinalOf(slot: string): number {
  return Number(slot.slice(slot.lastIndexOf('-') + 1));
}

export interface Placement {
  slot: string;
  ordinal: number;
  host: string;
}
