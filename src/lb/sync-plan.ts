/**
 * What to change in a running front door so its servers match a spec (pure):
 * servers to add, to remove, and per server the address, weight and state.
 */
import { splitHostPort } from './haproxy-config.js';
import type { LbServer, ServerState } from './model.js';

/** A server as HAProxy reports it ("show stat": name, addr, status, uweight). */
export interface ObservedServer {
  name: string;
  /** ip:port as HAProxy prints it. */
  address: string;
  state: ServerState;
  weight: number;
}

export type ServerChange =
  | { op: 'add'; server: LbServer }
  | { op: 'address'; name: string; address: string; port: number }
  | { op: 'weight'; name: string; weight: number }
  | { op: 'state'; name: string; state: ServerState }
  | { op: 'remove'; name: string };

/**
 * Adds first (capacity comes before it goes), then changes, then removals.
 * A server that becomes ready gets its weight before its state, so it never
 * takes requests at the old weight; one that leaves gets its state first.
 */
export function planServerChanges(observed: readonly ObservedServer[], desired: readonly LbServer[]): ServerChange[] {
  const byName = new Map(observed.map((o) => [o.name, o]));
  const wanted = new Set(desired.map((d) => d.name));
  const adds: ServerChange[] = [];
  const changes: ServerChange[] = [];
  for (const d of desired) {
    const o = byName.get(d.name);
    if (!o) {
      adds.push({ op: 'add', server: d });
      continue;
    }
    if (!sameAddress(o.address, d.address, d.port)) changes.push({ op: 'address', name: d.name, address: d.address, port: d.port });
    const weight: ServerChange[] = o.weight === d.weight ? [] : [{ op: 'weight', name: d.name, weight: d.weight }];
    const state: ServerChange[] = o.state === d.state ? [] : [{ op: 'state', name: d.name, state: d.state }];
    changes.push(...(d.state === 'ready' ? [...weight, ...state] : [...state, ...weight]));
  }
  const removes: ServerChange[] = observed.filter((o) => !wanted.has(o.name)).map((o) => ({ op: 'remove', name: o.name }));
  return [...adds, ...changes, ...removes];
}

/** Whether HAProxy's "ip:port" (IPv6 with or without brackets) is this address and port. */
export function sameAddress(observed: string, address: string, port: number): boolean {
  const seen = splitHostPort(observed);
  return seen.address === address && seen.port === port;
}
