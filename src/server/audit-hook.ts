/**
 * Every mutating request (POST, PUT, PATCH, DELETE), allowed or refused, is an
 * audit entry: who (the token's name, or anonymous), what (a readable action
 * from the route), on what (service and environment, token, rollout, approval),
 * with which parameters (secrets removed, every value bounded: audit-bounds.ts;
 * a body not read is only its size) and how it ended (status and reason).
 * Those without a valid token are coalesced per source (audit-coalesce.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { scrubParams } from '../access/audit.js';
import type { CoalescedRefusals } from '../access/audit-coalesce.js';
import { unreadBody } from '../access/audit-bounds.js';
import { sourceOf } from './limits.js';
import { actorOf } from './request.js';
import type { ServerCore } from './core.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const isMutating = (method: string): boolean => MUTATING.has(method);

/** Route → action; `:param` is replaced by the request's value. Unlisted routes are "METHOD /url/:pattern". */
export const ACTIONS: Record<string, string> = {
  'POST /v1/config': 'apply',
  'POST /v1/services/:service/releases': 'release',
  'POST /v1/services/:service/deployments': 'deploy',
  'POST /v1/services/:service/promotions': 'promote',
  'POST /v1/services/:service/rollbacks': 'rollback',
  'POST /v1/services/:service/scale': 'scale',
  'POST /v1/services/:service/canary/:decision': 'canary :decision',
  'POST /v1/services/:service/restarts': 'restart',
  'POST /v1/instances/:instance/moves': 'move',
  'POST /v1/hosts/:host/drain': 'host drain',
  'POST /v1/hosts/:host/undrain': 'host undrain',
  'POST /v1/registry/gc': 'registry gc',
  'POST /v1/rollouts/:id/cancel': 'rollout cancel',
  'POST /v1/rollouts/:id/abandon': 'rollout abandon',
  'POST /v1/tokens': 'token create',
  'DELETE /v1/tokens/:name': 'token revoke',
  'POST /v1/approvals/:id/approve': 'approve',
  'POST /v1/approvals/:id/reject': 'reject',
  'PUT /v1/services/:service/secrets/:name': 'secret set :name',
  'DELETE /v1/services/:service/secrets/:name': 'secret rm :name',
};

type Bag = Record<string, unknown>;
const text = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

export function actionOf(method: string, route: string, params: Bag): string {
  const action = ACTIONS[`${method} ${route}`];
  if (action === undefined) return `${method} ${route}`;
  return action.replace(/:([a-z]+)/g, (whole, name: string) => text(params[name]) ?? whole);
}

/** What the request acts on, from its route parameters and body. */
export function targetOf(route: string, params: Bag, body: Bag, query: Bag = {}): string {
  if (route.startsWith('/v1/rollouts/') && params.id !== undefined) return `rollout #${text(params.id)}`;
  if (route.startsWith('/v1/approvals/') && params.id !== undefined) return `approval #${text(params.id)}`;
  if (route.startsWith('/v1/tokens')) return `token ${text(params.name) ?? text(body.name) ?? '?'}`;
  if (route === '/v1/config') return 'config';
  if (route === '/v1/registry/gc') return body.dryRun === true ? 'registry (dry run)' : 'registry';
  if (route.startsWith('/v1/hosts/') && params.host !== undefined) return `host ${text(params.host)}`;
  const instance = text(params.instance) ?? text(body.instance);
  const service = text(params.service);
  const environment = text(body.environment) ?? text(body.to) ?? text(query.env);
  const what = instance ?? service;
  if (what !== undefined) return environment !== undefined ? `${what} in ${environment}` : what;
  return environment ?? '';
}

const REASON_MAX = 300;

/** "ok 202 rollout #5", "refused 403 token ci may not …", "failed 500 …". */
export function outcomeOf(status: number, answer: Bag | undefined): string {
  if (status < 400) {
    const rollout = text(answer?.rollout);
    const approval = text((answer?.approval as Bag | undefined)?.id);
    return [`ok ${status}`, ...(rollout !== undefined ? [`rollout #${rollout}`] : []), ...(approval !== undefined ? [`approval #${approval}`] : [])].join(' ');
  }
  const message = text((answer?.error as Bag | undefined)?.message) ?? '';
  const reason = message.length > REASON_MAX ? `${message.slice(0, REASON_MAX)}…` : message;
  return `${status < 500 ? 'refused' : 'failed'} ${status}${reason ? ` ${reason}` : ''}`;
}

declare module 'fastify' {
  interface FastifyRequest {
    auditAnswer?: Bag;
  }
}

/** onSend: keeps what the outcome needs from the answer of a mutating request (its rollout or approval, or its error). */
export async function captureAnswer(request: FastifyRequest, _reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (MUTATING.has(request.method) && typeof payload === 'string') {
    try {
      const parsed = JSON.parse(payload) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) request.auditAnswer = parsed as Bag;
    } catch {
      // not JSON: the status alone is the outcome
    }
  }
  return payload;
}

/** A body the server did not read (refused before it, or over its route's limit): its size, no content. */
function bodyNotRead(request: FastifyRequest, reply: FastifyReply): Bag {
  const sent = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
  if (request.body !== undefined || !sent || request.headers['content-length'] === '0') return {};
  return { body: unreadBody(request.headers['content-length'], request.routeOptions.bodyLimit, reply.statusCode === 413) };
}

/** Once the answer is known (onSend): appends the request to the audit log (and its event); one without a valid token goes through `refusals`. */
export async function recordRequest(core: ServerCore, refusals: CoalescedRefusals, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!MUTATING.has(request.method)) return;
  const route = request.routeOptions.url ?? request.url.split('?')[0]!;
  const params = (request.params ?? {}) as Bag;
  const body = request.body && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Bag) : {};
  const query = (request.query ?? {}) as Bag;
  const scrubbed = { ...scrubParams(request.body, route), ...bodyNotRead(request, reply) };
  const entry = {
    actor: actorOf(request),
    action: actionOf(request.method, route, params),
    target: targetOf(route, params, body, query),
    params: Object.keys(query).length > 0 ? { ...scrubbed, query: scrubParams(query) } : scrubbed,
    outcome: outcomeOf(reply.statusCode, request.auditAnswer),
  };
  try {
    if (request.token) await core.audit(entry);
    else await refusals.record(sourceOf(request), entry, reply.statusCode);
  } catch (error) {
    request.log.error({ err: error, audit: entry }, 'the audit log could not be appended');
  }
}
