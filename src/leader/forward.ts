/**
 * A follower's answer to a request that changes something: the leader's own. Only the leader runs
 * rollouts and the reconciler, so a follower sends such a request on to the leader's advertised
 * address with the caller's token and hands back the leader's status and body as they are: the
 * caller gets the same answer from any server. While nobody leads (a takeover), it waits for the
 * next leader; a leader that cannot be reached before the request was sent is retried, one that
 * dropped the connection after it was sent is `unavailable` (the request may have run).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { unavailable } from '../errors.js';
import type { Store } from '../store/db.js';
import { leaderOf } from '../store/leader.js';

export interface Forwarded {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ForwardOptions {
  db: Store;
  /** This server's id: a leader row naming it means it leads again (the caller then runs the request itself). */
  self: string;
  /** Whether this server leads now (checked between tries). */
  leading: () => boolean;
  /** CAs to trust for an https leader (the servers' certificate or its CA). */
  ca?: Buffer[];
  /** How long to wait for a leader to take over (default: twice the lease's TTL). */
  waitMs: number;
  pollMs?: number;
}

export interface ForwardRequest {
  method: string;
  /** Path and query, as the caller sent them. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer | undefined;
}

/** Headers a hop must not pass on, and those the follower's own answer sets. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade', 'proxy-authorization', 'te', 'trailer']);

/** The leader's answer; 'self' when this server leads again meanwhile (run it here). */
export async function forwardToLeader(request: ForwardRequest, options: ForwardOptions): Promise<Forwarded | 'self'> {
  const deadline = Date.now() + options.waitMs;
  let last = 'no server leads';
  for (;;) {
    if (options.leading()) return 'self';
    const { leader, now } = await leaderOf(options.db);
    if (leader && leader.expiresAt > now && leader.holder !== options.self) {
      try {
        return await send(leader.address, request, options.ca);
      } catch (error) {
        if (!(error instanceof NotSent)) {
          throw unavailable(`the leading server ${leader.address} dropped the request before answering: ${(error as Error).message}`, {
            fix: 'see whether it ran (berth rollout ls, berth history) before sending it again',
          });
        }
        last = `the leading server ${leader.address} does not answer (${error.message})`;
      }
    } else if (leader && leader.holder !== options.self) {
      last = `the lease of ${leader.address} expired and no server has taken it over yet`;
    }
    if (Date.now() >= deadline) {
      throw unavailable(`this server follows, and no leader took the request: ${last}`, { fix: 'see berth server status; the request ran nowhere: send it again once a server leads' });
    }
    await sleep(options.pollMs ?? 250);
  }
}

class NotSent extends Error {}

function send(address: string, request: ForwardRequest, ca: Buffer[] | undefined): Promise<Forwarded> {
  const url = new URL(request.url, address);
  const headers: Record<string, string> = { 'x-berth-forwarded': '1' };
  for (const [name, value] of Object.entries(request.headers)) if (!HOP.has(name) && typeof value === 'string') headers[name] = value;
  if (request.body) headers['content-length'] = String(request.body.length);
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Forwarded>((resolve, reject) => {
    let connected = false;
    const outgoing = make(url, { method: request.method, headers, ...(url.protocol === 'https:' && ca?.length ? { ca } : {}) }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('error', reject);
      answer.on('end', () => {
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (!HOP.has(name) && typeof value === 'string') kept[name] = value;
        resolve({ status: answer.statusCode ?? 502, headers: kept, body: Buffer.concat(chunks) });
      });
    });
    outgoing.on('socket', (socket) => socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true)));
    outgoing.on('error', (error) => reject(connected ? error : new NotSent((error as NodeJS.ErrnoException).code ?? error.message)));
    outgoing.end(request.body);
  });
}
