import { BerthError, conflict, failed, notFound, unavailable } from '../errors.js';
import { EngineUnreachable } from './transport.js';

/** Maps what an engine call throws to Berth's categories; the only place that reads engine errors. */
export function engineError(error: unknown, endpoint: string, what: string): BerthError {
  if (error instanceof BerthError) return error;
  if (error instanceof EngineUnreachable) {
    return unavailable(`${error.message}, while trying to ${what}`, { fix: unreachableFix(error), cause: error });
  }
  const e = error as { statusCode?: number; message?: string };
  const detail = e.message ?? String(error);
  if (e.statusCode === 404) return notFound(`${what}: ${detail}`, { cause: error });
  if (e.statusCode === 409) return conflict(`${what}: ${detail}`, { cause: error });
  return failed(`the engine at ${endpoint} refused to ${what}: ${detail.trim()}`, { cause: error });
}

function unreachableFix(error: EngineUnreachable): string {
  if (error.code === 'EACCES') return 'run Berth as root or as a member of the docker group';
  if (error.code === 'ETLSFILE') return `check the host's "tls" files in berth.yaml (or "fleet.tls")`;
  if (/TLS/.test(error.reason)) return `check the host's "tls" files in berth.yaml (or "fleet.tls") against the engine's --tlscacert, --tlscert and --tlskey`;
  if (error.endpoint.startsWith('unix://')) return 'start the engine (as root: "npm run setup", or "dockerd &"), or point DOCKER_HOST at a running engine';
  return `check that dockerd runs on that host and listens on that address (dockerd -H ${error.endpoint} --tlsverify ...), and that the network lets Berth reach it`;
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

/** The engine could not be reached at all (refused, timed out, TLS refused), as opposed to an engine that answered with an error. */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof EngineUnreachable) return true;
  return error instanceof BerthError && error.kind === 'unavailable' && error.cause instanceof EngineUnreachable;
}

export { EngineUnreachable } from './transport.js';
