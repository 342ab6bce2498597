/** Placeholder until the audit log lands (access helper): every mutating request will be appended here. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerCore } from './core.js';

export async function recordRequest(_core: ServerCore, _request: FastifyRequest, _reply: FastifyReply): Promise<void> {}
