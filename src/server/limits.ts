/**
 * What the server takes from one request and one source: a body no larger
 * than its route needs (413 before it is read), and requests without a valid
 * token counted per source address (429 with Retry-After past the limit,
 * @fastify/rate-limit). Both answered in Berth's error shape.
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BUNDLE_LIMITS } from '../apply/bundle.js';
import { invalid, isBerthError, unavailable, type BerthError } from '../errors.js';
import { MAX_SECRET_BYTES } from '../secrets/stored.js';

/** Every JSON route: a request names things and numbers, never content. */
export const JSON_BODY_LIMIT = 64 * 1024;
/** POST /v1/config alone: the largest project folder `berth apply` sends (bundle.ts), in base64, with room for its file names. */
export const BUNDLE_BODY_LIMIT = Math.ceil(BUNDLE_LIMITS.bytes / 3) * 4 + BUNDLE_LIMITS.files * 1024 + JSON_BODY_LIMIT;
/** PUT a secret: the largest value (stored.ts), which JSON may escape to six times its bytes (control characters as \u00XX). */
export const SECRET_BODY_LIMIT = 6 * MAX_SECRET_BYTES + JSON_BODY_LIMIT;
/** Requests without a valid token one source address may make in a minute (each refused 401), before 429. */
export const UNAUTHENTICATED_PER_MINUTE = 60;

/** The refusals these limits answer with a status of their own (413, 429) rather than their kind's. */
const STATUS = new WeakMap<BerthError, number>();

export function limitStatus(error: BerthError): number | undefined {
  return STATUS.get(error);
}

const withStatus = (error: BerthError, status: number) => {
  STATUS.set(error, status);
  return error;
};

const kib = (n: number) => (n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${Math.round(n / 1024)} KiB`);

/** Fastify's "body too large" (its Content-Length over the route's limit, or a chunked body cut there) as Berth's refusal. */
export function bodyTooLarge(error: unknown, request: FastifyRequest): BerthError | undefined {
  if ((error as { code?: string }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return undefined;
  const limit = request.routeOptions.bodyLimit ?? JSON_BODY_LIMIT;
  const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
  const fix =
    limit === BUNDLE_BODY_LIMIT
      ? `keep the project folder under ${BUNDLE_LIMITS.bytes / 1024 / 1024} MiB: leave build outputs and data out of the folder of berth.yaml`
      : limit === SECRET_BODY_LIMIT
        ? `a secret's value is at most ${kib(MAX_SECRET_BYTES)}: put large files in the image or a config file`
        : `the body of ${route} names things and numbers, at most ${kib(limit)}: configuration goes through berth apply, secret values through berth secret set`;
  return withStatus(invalid(`the body of ${route} is over its limit of ${kib(limit)} (${limit} bytes): refused, and read no further`, { fix }), 413);
}

/**
 * Registers the rate limiter; returns the hook that counts a request without
 * a valid token against its source address: past the limit it throws the 429
 * (the limiter sets Retry-After), else it returns and the request is refused
 * 401 as before. Requests with a valid token are never counted.
 */
export async function limitUnauthenticated(app: FastifyInstance): Promise<(request: FastifyRequest, reply: FastifyReply) => Promise<void>> {
  await app.register(rateLimit, {
    global: false,
    max: UNAUTHENTICATED_PER_MINUTE,
    timeWindow: 60_000,
    errorResponseBuilder: (request, context) =>
      withStatus(
        unavailable(`too many requests without a valid token from ${request.ip}: more than ${context.max} in a minute, each refused`, { fix: `send a valid token (BERTH_TOKEN), and retry in ${context.after}` }),
        context.statusCode,
      ),
  });
  const count = app.rateLimit();
  return async (request, reply) => {
    await count.call(app, request, reply);
  };
}

/** A refusal of these limits (413, 429). */
export function isLimitRefusal(error: unknown): error is BerthError {
  return isBerthError(error) && STATUS.has(error);
}

/** The source address a request is counted against: IPv4, or the /64 of an IPv6 address (as the limiter keys it). */
export function sourceOf(request: FastifyRequest): string {
  return normalizeIP(request.ip);
}
