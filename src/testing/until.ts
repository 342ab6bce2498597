/** Polls `probe` until it gives a value (not undefined): the synchronisation of integration tests, never a fixed sleep. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 120_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs} ms${last ? ` (last: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
