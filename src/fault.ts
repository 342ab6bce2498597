/**
 * Checkpoints of a rollout: the places between the engine changes of a step,
 * and between steps, where a crash is hardest to recover from. Berth itself
 * does nothing at them. The crash-safety tests install a fault here (through
 * src/testing/berth-killed-at.ts, a test-only entry to the CLI) that kills the
 * process at the n-th checkpoint; the shipped CLI never installs one. The unit
 * tests of crashes (rollout/crash-on-fake.test.ts) return a promise that never
 * settles instead: every call site awaits the checkpoint, so that run stops
 * there for good, running no catch or finally, as a killed process would.
 */
export type CheckpointFault = (where: string) => void | Promise<void>;

let fault: CheckpointFault | undefined;

export async function checkpoint(where: string): Promise<void> {
  await fault?.(where);
}

/** Runs `injected` at every checkpoint this process passes from now on (undefined: none again). */
export function injectCheckpointFault(injected: CheckpointFault | undefined): void {
  fault = injected;
}
