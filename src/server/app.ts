/**
 * The HTTP API under /v1 (fastify): every route declares who may call it
 * (`config.access`), its schemas validate the requests and make the OpenAPI
 * document at /v1/openapi.json, and every error is rendered by errors.ts.
 */
import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticate } from '../access/tokens.js';
import { lacks } from '../access/roles.js';
import { CoalescedRefusals } from '../access/audit-coalesce.js';
import { BerthError, forbidden, invalid, isBerthError, unavailable } from '../errors.js';
import { forwardToLeader } from '../leader/forward.js';
import { storeFailure } from '../store/db.js';
import type { ServerCore } from './core.js';
import { errorBody, HTTP_STATUS, isValidationError } from './errors.js';
import { captureAnswer, isMutating, recordRequest } from './audit-hook.js';
import { bodyTooLarge, isLimitRefusal, JSON_BODY_LIMIT, limitStatus, limitUnauthenticated } from './limits.js';
import { accessOf } from './request.js';
import { registerRoutes } from './routes/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Answered by the leader (a follower forwarded it). */
    forwarded?: boolean;
  }
}

export interface AppOptions {
  https?: { cert: Buffer; key: Buffer };
  /** Where the server's log goes: one JSON line per entry (errors only: an internal error with its stack and request id). Default: stderr. */
  log?: { write(line: string): void };
}

export async function buildApp(core: ServerCore, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    // The log has what a bug needs (the stack, under the request id the client was shown); each request is in the audit log already.
    logger: { level: 'error', stream: options.log ?? process.stderr },
    genReqId: () => randomBytes(6).toString('hex'),
    // Every route takes a small JSON body unless it says otherwise (limits.ts): over it, 413 before the body is read.
    bodyLimit: JSON_BODY_LIMIT,
  });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? STRICT : URL_PARTS).compile(schema));
  await app.register(swagger, {
    openapi: {
      info: { title: 'Berth API', version: '1', description: 'The control plane of Berth: configuration, releases, rollouts, instances, tokens, approvals and audit.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
      security: [{ token: [] }],
    },
  });

  // Requests without a valid token: counted per source address (429 past the limit), and their audit entries coalesced per source and minute.
  const countUnauthenticated = await limitUnauthenticated(app);
  const refusals = new CoalescedRefusals((entry) => core.audit(entry), { onError: (error) => app.log.error({ err: error }, 'the audit log could not be appended') });
  app.addHook('onClose', async () => await refusals.flush());
  const authenticated = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      return await authenticate(core.db, request.headers.authorization);
    } catch (error) {
      if (isBerthError(error) && error.kind === 'unauthenticated') await countUnauthenticated(request, reply);
      throw error;
    }
  };

  app.decorateRequest('token', undefined);
  // Every answer names its request: the id under which the server's log has an internal error's stack.
  app.addHook('onRequest', async (request, reply) => void reply.header('x-request-id', request.id));
  // Authentication first, before the body is validated: an anonymous caller learns nothing about the schemas.
  app.addHook('onRequest', async (request, reply) => {
    const access = accessOf(request);
    if (!access) {
      // 404: fastify answers it; one without a valid token is counted all the same (probing for routes).
      if (request.routeOptions.url === undefined) {
        request.token = await authenticated(request, reply).catch((error: unknown) => {
          if (isLimitRefusal(error)) throw error;
          return undefined;
        });
        return;
      }
      throw forbidden(`${request.method} ${request.routeOptions.url} declares no access rule, so nobody may call it`, { fix: 'this is a bug in Berth: report it' });
    }
    if (access.level === 'public') return;
    request.token = await authenticated(request, reply);
  });
  app.addHook('preHandler', async (request) => {
    const access = accessOf(request);
    if (!access || access.level === 'public' || !request.token) return;
    const environment = await access.environment?.(request);
    const missing = lacks(request.token, { level: access.level, ...(environment !== undefined ? { environment } : {}) });
    if (missing) throw forbidden(`token ${request.token.name} may not ${request.method} ${request.routeOptions.url}${environment ? ` in ${environment}` : ''}: it lacks ${missing}`, { fix: 'ask an admin for a token with those rights: berth token create --name NAME --role ROLE [--envs a,b]' });
    // A change whose audit head could not be recorded is refused (503) rather than made unrecorded.
    if (isMutating(request.method)) core.checkAuditHead();
  });
  // A follower hands a change to the leader and answers with the leader's answer (after checking the token and the input itself).
  app.addHook('preHandler', async (request, reply) => {
    if (!isMutating(request.method) || !core.leadership || core.leadership.leading()) return;
    if (request.headers['x-berth-forwarded'] !== undefined) throw unavailable('this server received a request forwarded to the leader, and it no longer leads', { fix: 'send it again: the server that leads now takes it' });
    const answer = await forwardToLeader(
      { method: request.method, url: request.url, headers: request.headers, body: request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body)) },
      { db: core.db, self: core.leadership.id, leading: () => core.leadership?.leading() ?? true, waitMs: 2 * core.leadership.timing.ttlMs, ...(core.leaderCa ? { ca: core.leaderCa } : {}) },
    );
    if (answer === 'self') return;
    request.forwarded = true;
    return reply.status(answer.status).headers(answer.headers).send(answer.body);
  });
  // In onSend, not onResponse: a client gone before the answer (Ctrl-C while a rollout is being journaled) gets no onResponse, and its request must be in the log all the same.
  app.addHook('onSend', async (request, reply, payload) => {
    // The leader recorded a forwarded request in the audit log: once.
    if (request.forwarded) return payload;
    const sent = await captureAnswer(request, reply, payload);
    await recordRequest(core, refusals, request, reply);
    return sent;
  });

  app.setErrorHandler((error, request, reply) => sendError(reply, bodyTooLarge(error, request) ?? toBerthError(error, request)));
  app.setNotFoundHandler((request, reply) => sendError(reply, new BerthError('not-found', `no route ${request.method} ${request.url.split('?')[0]}`, { fix: 'the API is described at /v1/openapi.json' })));

  await app.register(async (v1) => registerRoutes(v1, core), { prefix: '/v1' });
  app.get('/v1/openapi.json', { config: { access: { level: 'public' } }, schema: { hide: true } }, async () => app.swagger());
  return app;
}

/**
 * A body is JSON, so its types are checked as sent: no coercion (`role: ["admin"]`
 * is not read as "admin", nor "dev" as ["dev"], nor "3" as 3). A URL's parts are
 * text, so only their scalars are read as the number or boolean the schema
 * says; never an array. allErrors off: one error, no work for a hostile body.
 */
const STRICT = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, allErrors: false });
const URL_PARTS = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: true, allErrors: false });

function toBerthError(error: unknown, request: FastifyRequest): BerthError {
  if (isBerthError(error)) return error;
  const store = storeFailure(error);
  if (store) return store;
  if (isValidationError(error)) return invalid(`${request.method} ${request.routeOptions.url ?? request.url}: ${(error as Error).message}`, { fix: 'the request schemas are in /v1/openapi.json' });
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return invalid(`${request.method} ${request.url.split('?')[0]}: ${(error as Error).message}`, { fix: 'the API is described at /v1/openapi.json' });
  request.log.error({ err: error, method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0] }, 'internal error');
  return new BerthError('failed', `internal error (request ${request.id}): ${(error as Error).message}`, { fix: `this is a bug in Berth: report it; the server's log has the stack trace under request ${request.id}` });
}

function sendError(reply: FastifyReply, error: BerthError): FastifyReply {
  return reply.status(limitStatus(error) ?? HTTP_STATUS[error.kind]).send(errorBody(error));
}
