/** The timeout a request may carry (per instance, until healthy), as a rollout's option. */
export const timeoutOf = (request: { timeoutMs?: number }): { timeoutMs?: number } => (request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {});
