/**
 * What the server knows of a request beyond fastify's own: the token that
 * authenticated it, the access rule its route declares, and the actor of what
 * it does. Routes, the audit hook and app.ts read them from here.
 */
import type { FastifyRequest } from 'fastify';
import type { AccessLevel } from '../access/roles.js';
import type { TokenRecord } from '../store/tokens.js';

export interface RouteAccess {
  /** 'public': no token (the OpenAPI document, liveness). */
  level: AccessLevel | 'public';
  /** The environment a deploy-level request changes, from its params, query or body. */
  environment?: (request: FastifyRequest) => string | undefined | Promise<string | undefined>;
}

declare module 'fastify' {
  interface FastifyRequest {
    token?: TokenRecord;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export function accessOf(request: FastifyRequest): RouteAccess | undefined {
  return request.routeOptions.config.access;
}

/** The token's name: the actor of what the request does. */
export function actorOf(request: FastifyRequest): string {
  return request.token?.name ?? 'anonymous';
}
