/**
 * `berth doctor`'s checks of the door hosts of each environment with a shared
 * address: keepalived's container runs on every member, and exactly one member
 * holds the address. Seen through each member's engine (seeDoorHost), judged
 * by a pure function (doorHostChecks).
 */
import type { Engine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { vrrpContainerName } from '../lb/vrrp-container.js';
import type { Check } from './checks.js';

/** One door host as its engine shows it. */
export interface DoorHostSeen {
  host: string;
  /** keepalived's container: running, missing, exited…; undefined when the engine did not answer. */
  keepalived?: string;
  /** The shared address is on the host's interfaces; undefined when it could not be seen (the engine, or keepalived's container, not answering). */
  holds?: boolean;
  /** Why the host could not be seen. */
  problem?: string;
}

export interface DoorEnvironment {
  project: string;
  environment: string;
  address: string;
}

/** keepalived's container on the member, and whether the address is there (the container runs on the host's network, so it sees the host's interfaces). */
export async function seeDoorHost(door: DoorEnvironment, member: { host: string; engine: Engine }): Promise<DoorHostSeen> {
  const name = vrrpContainerName(door.project, door.environment);
  let keepalived: string | undefined;
  try {
    const state = await member.engine.containers.inspect(name);
    keepalived = !state ? 'missing' : state.running ? 'running' : state.status;
    if (keepalived !== 'running') return { host: member.host, keepalived };
    const result = await member.engine.exec(name, ['ip', '-4', '-o', 'addr', 'show']);
    if (result.exitCode !== 0) return { host: member.host, keepalived, problem: `"ip addr show" in ${name} ended with ${result.exitCode}` };
    return { host: member.host, keepalived, holds: result.output.split('\n').some((line) => line.includes(` ${door.address}/`)) };
  } catch (error) {
    return { host: member.host, ...(keepalived ? { keepalived } : {}), problem: isBerthError(error) || error instanceof Error ? error.message : String(error) };
  }
}

/** One check per member (keepalived runs there) and one for the address (held by exactly one member). */
export function doorHostChecks(door: DoorEnvironment, seen: readonly DoorHostSeen[]): Check[] {
  const where = `environment ${door.environment}`;
  const container = vrrpContainerName(door.project, door.environment);
  const restore = `run "berth release" of a service of ${door.environment} again, or let "berth server"'s reconciler restore it`;
  const members = seen.map((s): Check => {
    const name = `door host ${s.host} (${door.environment})`;
    if (s.keepalived === undefined) return { name, status: 'fail', detail: `${where}: the engine did not answer: ${s.problem ?? 'no answer'}`, fix: `start the engine on ${s.host} or restore the network to it` };
    if (s.keepalived === 'running') {
      return s.problem
        ? { name, status: 'warn', detail: `${where}: keepalived (${container}) runs, but whether it holds ${door.address} could not be seen: ${s.problem}` }
        : { name, status: 'ok', detail: `${where}: keepalived (${container}) runs, ${s.holds ? `holds ${door.address}` : 'backup'}` };
    }
    return {
      name,
      status: 'fail',
      detail: `${where}: keepalived (${container}) is ${s.keepalived}: ${s.host} cannot take ${door.address} if the member that holds it fails`,
      fix: restore,
    };
  });
  return [...members, addressCheck(door, seen)];
}

function addressCheck(door: DoorEnvironment, seen: readonly DoorHostSeen[]): Check {
  const name = `shared address ${door.address} (${door.environment})`;
  const holders = seen.filter((s) => s.holds === true).map((s) => s.host);
  const unseen = seen.filter((s) => s.holds === undefined).map((s) => s.host);
  const notSeen = unseen.length > 0 ? `; not seen on ${unseen.join(', ')}` : '';
  if (holders.length === 1) return { name, status: 'ok', detail: `held by ${holders[0]}${notSeen}` };
  if (holders.length > 1) {
    return {
      name,
      status: 'fail',
      detail: `held by ${holders.join(' and ')} at once: each answers for it, so requests go to whichever the LAN last heard`,
      fix: `the members do not hear each other's VRRP advertisements (IP protocol 112, unicast between the door hosts' addresses): allow it between ${holders.join(' and ')}; see docs/lb.md`,
    };
  }
  if (unseen.length > 0) return { name, status: 'warn', detail: `held by none of the members Berth could see${notSeen}` };
  return {
    name,
    status: 'fail',
    detail: `held by no member: nothing answers at ${door.address}`,
    fix: `no member passes its check (a door of ${door.environment} answering on each of its ports) or keepalived is stopped; see the logs of ${vrrpContainerName(door.project, door.environment)} on each door host`,
  };
}
