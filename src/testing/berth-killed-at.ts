/**
 * `node dist/src/testing/berth-killed-at.js <n> <berth arguments…>`: the berth
 * CLI, killing itself (SIGKILL, no cleanup) at the n-th rollout checkpoint it
 * passes, counting from 1. The crash-safety tests run it as the separate
 * process they kill; the fault is injected here, so the shipped CLI reads no
 * variable that could make it crash.
 */
import { main } from '../cli/main.js';
import { injectCheckpointFault } from '../fault.js';

/** A fault that kills this process at the n-th checkpoint. */
function killAtCheckpoint(n: number): (where: string) => void {
  let passed = 0;
  return () => {
    passed += 1;
    if (passed === n) process.kill(process.pid, 'SIGKILL');
  };
}

const [at, ...args] = process.argv.slice(2);
const n = Number(at);
if (!Number.isInteger(n) || n < 1) {
  process.stderr.write(`usage: berth-killed-at.js <checkpoint, 1 or more> <berth arguments…> (got "${at ?? ''}")\n`);
  process.exit(2);
}
injectCheckpointFault(killAtCheckpoint(n));
process.exitCode = await main(args);
