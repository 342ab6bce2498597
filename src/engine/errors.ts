import { BerthError, conflict, failed, notFound, unavailable } from '../errors.js';

/** Maps what an engine call throws to Berth's categories; the only place that reads engine errors. */
export function engineError(error: unknown, endpoint: string, what: string): BerthError {
  if (error instanceof BerthError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  const detail = e.message ?? String(error);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES' || e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ETIMEDOUT') {
    return unavailable(`cannot reach the Docker Engine at ${endpoint} (${e.code}) while trying to ${what}`, {
      fix:
        e.code === 'EACCES'
          ? `run Berth as root or as a member of the docker group`
          : `start the engine (as root: "npm run setup", or "dockerd &"), or point DOCKER_HOST at a running engine`,
      cause: error,
    });
  }
  if (e.statusCode === 404) return notFound(`${what}: ${detail}`, { cause: error });
  if (e.statusCode === 409) return conflict(`${what}: ${detail}`, { cause: error });
  return failed(`the engine refused to ${what}: ${detail.trim()}`, { cause: error });
}

/** Runs an engine call, turning its failure into a categorized error. */
export async function guard<T>(endpoint: string, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw engineError(error, endpoint, what);
  }
}

/** A 404 means "absent" for look-ups; anything else is an error. */
export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}
