import { TEST_KNOBS } from './test-knobs.js';

/**
 * Fault injection for the crash-safety tests: with BERTH_TEST_FAULT_KILL_AT=<n>,
 * the process kills itself (SIGKILL, no cleanup) at the n-th checkpoint a
 * rollout passes, counting from 1. Checkpoints sit between the engine changes
 * of a step and between steps, where a crash is hardest to recover from.
 */
let passed = 0;

export function checkpoint(_where: string): void {
  const at = Number(process.env[TEST_KNOBS.faultKillAt] ?? 0);
  if (at <= 0) return;
  passed += 1;
  if (passed === at) process.kill(process.pid, 'SIGKILL');
}
