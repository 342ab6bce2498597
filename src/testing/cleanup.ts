/**
 * One registry of what a test process must undo. A signal (Ctrl-C, the
 * runner's SIGTERM, a closed terminal) runs every registered cleanup, newest
 * first, within a bound, then exits 128+signal. A normal cleanup unregisters.
 */
import { constants } from 'node:os';

type Cleanup = () => Promise<void>;

/** Long enough for a few `docker rm -f` and an HAProxy stop on a busy machine. */
const SIGNAL_CLEANUP_MS = 60_000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const registered = new Map<symbol, { what: string; work: Cleanup }>();
let installed = false;
let exiting = false;

/** Registers `work` to run on a signal; returns the function that unregisters it. */
export function registerCleanup(what: string, work: Cleanup): () => void {
  installHandlers();
  const key = Symbol(what);
  registered.set(key, { what, work });
  return () => void registered.delete(key);
}

/** Runs every registered cleanup, newest first (namespaces before the bridges they plug into); each once. */
export async function runRegisteredCleanups(timeoutMs = SIGNAL_CLEANUP_MS): Promise<string[]> {
  const failures: string[] = [];
  const all = [...registered.entries()].reverse();
  registered.clear();
  const work = (async () => {
    for (const [, { what, work }] of all) {
      await work().catch((error: unknown) => failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`));
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      failures.push(`cleanup did not finish within ${timeoutMs} ms`);
      resolve();
    }, timeoutMs);
  });
  await Promise.race([work, bound]);
  clearTimeout(timer);
  return failures;
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of SIGNALS) process.on(signal, () => void onSignal(signal));
}

async function onSignal(signal: (typeof SIGNALS)[number]): Promise<void> {
  // A second Ctrl-C while cleaning up is not a reason to leave things half removed.
  if (exiting) return;
  exiting = true;
  // Under node --test the runner exits on the same Ctrl-C and closes our pipes: a write of the test's
  // reporter would then fail with EPIPE and end this process before its cleanup did.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const failures = await runRegisteredCleanups();
  // The terminal or the runner's pipe may be gone; a failed write must not stop the exit.
  try {
    for (const failure of failures) process.stderr.write(`${signal}: cleanup: ${failure}\n`);
  } catch {
    // Nothing left to tell.
  }
  process.exit(128 + constants.signals[signal]);
}
