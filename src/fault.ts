/**
 * Checkpoints of a rollout: the places between the engine changes of a step,
 * and between steps, where a crash is hardest to recover from. Berth itself
 * does nothing at them. The crash-safety tests install a fault here (through
 * src/testing/berth-killed-at.ts, a test-only entry to the CLI) that kills the
 * process at the n-th checkpoint; the shipped CLI never installs one.
 */
export type CheckpointFault = (where: string) => void;

let fault: CheckpointFault | undefined;

export function checkpoint(where: string): void {
  fault?.(where);
}

/** Runs `injected` at every checkpoint this process passes from now on (undefined: none again). */
export function injectCheckpointFault(injected: CheckpointFault | undefined): void {
  fault = injected;
}
