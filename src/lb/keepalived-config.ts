/**
 * The keepalived configuration of each member of a door pair (pure): the doors of one
 * environment on two or more hosts share one address, held by one member at a time
 * through VRRP.
 *
 * - **Unicast peers**: each member sends its advertisements to the other members' own
 *   addresses; nothing relies on multicast reaching across the LAN.
 * - **Every member starts as BACKUP, with `nopreempt`**: the address stays where it is
 *   when a member comes back, so a returning host never takes it (and its traffic) in
 *   the middle of a request. The priorities still differ (by the member's place in
 *   `front_door.hosts`) so that two backups whose timers run out together do not both
 *   claim it, and the first host named takes it when all start at once.
 * - **A check that fails when HAProxy does not answer**: an HTTP request to each door of
 *   the environment on that host; a member whose door does not answer goes to FAULT and
 *   lets the address go.
 * - **Gratuitous ARP when a member takes the address**, repeated, and again a moment
 *   later, so switches and neighbours learn the new MAC at once.
 *
 * Takeover takes about 3 × the advertisement interval plus the member's skew
 * ((256 − priority) / 256 of an interval): about 3.6 s at 1 s.
 *
 * One VRRP instance per environment and host: several keepalived instances on one host
 * claiming one address would take it from each other (a member that goes back to BACKUP
 * deletes the address another instance on the same host still serves).
 */
import { createHash } from 'node:crypto';
import { invalid } from '../errors.js';
import { DOOR_PATHS, VRRP_INTERFACE } from './door-image.js';
import { hostPort } from './haproxy-config.js';

export interface VrrpMember {
  /** The fleet host's name. */
  host: string;
  /** Its own address on the LAN (where its peers send advertisements). */
  address: string;
}

export interface VrrpPlan {
  project: string;
  environment: string;
  /** The address the members share. */
  address: string;
  /** In the order of front_door.hosts. */
  members: readonly VrrpMember[];
  /** The doors of the environment on each member (HAProxy's bind address and port): what the check asks. */
  doors: readonly { address: string; port: number }[];
  /** Seconds between advertisements (default 1). */
  advertSeconds?: number;
}

/** What one member needs: its keepalived.conf and the environment its container's start script reads. */
export interface VrrpMemberFiles {
  keepalived: string;
  env: string;
}

/** The check keepalived runs (in the door's image): exits 0 when every door given as ADDRESS:PORT answers HTTP. */
export const VRRP_CHECK = DOOR_PATHS.check;

/** The interface is the one that holds the member's own address; keepalived.conf names it through this placeholder, replaced at start. */
export { VRRP_INTERFACE };

/** 1..255, the same for every member of one environment's doors, from the project and environment. */
export function vrrpRouterId(project: string, environment: string): number {
  const digest = createHash('sha256').update(`${project}\0${environment}`).digest();
  return (digest.readUInt16BE(0) % 255) + 1;
}

/** Problems that make a plan unusable (empty when it is fine). */
export function vrrpProblems(plan: VrrpPlan): string[] {
  const problems: string[] = [];
  if (plan.members.length < 2) problems.push(`a shared address needs two or more door hosts (got ${plan.members.length})`);
  const seen = new Set<string>();
  for (const m of plan.members) {
    if (!isIpv4(m.address)) problems.push(`host ${m.host} has no IPv4 address of its own (got "${m.address}"): its peers could not reach it`);
    else if (seen.has(m.address)) problems.push(`hosts share the address ${m.address}`);
    seen.add(m.address);
    if (m.address === plan.address) problems.push(`the shared address ${plan.address} is host ${m.host}'s own`);
  }
  if (!isIpv4(plan.address)) problems.push(`the shared address "${plan.address}" is not an IPv4 address`);
  if (plan.doors.length === 0) problems.push('no door to check');
  for (const d of plan.doors) {
    if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535) problems.push(`door port ${d.port} is not a port`);
    // HAProxy cannot listen on an address its host does not hold: a member that does not hold it would have no door to take it with.
    if (d.address === plan.address) problems.push(`a door listens on the shared address ${plan.address} itself (port ${d.port}): doors behind it listen on 0.0.0.0 (leave lb_address out)`);
  }
  const advert = plan.advertSeconds ?? 1;
  if (!Number.isInteger(advert) || advert < 1 || advert > 255) problems.push(`advertisement interval ${advert} s: whole seconds from 1 to 255`);
  return problems;
}

/** Each member's files, by host. Throws on a plan vrrpProblems refuses. */
export function vrrpFiles(plan: VrrpPlan): Map<string, VrrpMemberFiles> {
  const problems = vrrpProblems(plan);
  if (problems.length > 0) throw invalid(`the shared front door address of ${plan.project}/${plan.environment}: ${problems[0]}`, { lines: problems.slice(1), fix: 'check environments.<env>.front_door and the addresses of its hosts in berth.yaml' });
  return new Map(plan.members.map((member, index) => [member.host, { keepalived: keepalivedConf(plan, index), env: vrrpEnv(plan, member) }]));
}

function keepalivedConf(plan: VrrpPlan, index: number): string {
  const self = plan.members[index]!;
  const peers = plan.members.filter((_, i) => i !== index);
  const advert = plan.advertSeconds ?? 1;
  // The door is checked where it listens; one on every address answers on loopback.
  const targets = plan.doors.map((d) => hostPort(d.address === '0.0.0.0' || d.address === '::' ? '127.0.0.1' : d.address, d.port));
  return [
    '# Written by Berth: the shared address of the front doors of',
    `# ${plan.project}/${plan.environment}, member ${self.host}.`,
    'global_defs {',
    `  router_id berth-${self.host}`,
    '  script_user root',
    '  enable_script_security',
    '  # Gratuitous ARP when this member takes the address: 5 at once, 5 again a second later, and every 10 s while it holds it.',
    '  vrrp_garp_master_repeat 5',
    '  vrrp_garp_master_delay 1',
    '  vrrp_garp_master_refresh 10',
    '  vrrp_garp_lower_prio_repeat 5',
    '}',
    '',
    'vrrp_script berth_doors {',
    `  script "${[VRRP_CHECK, ...targets].join(' ')}"`,
    `  interval ${advert}`,
    '  timeout 2',
    '  fall 2',
    '  rise 2',
    '}',
    '',
    `vrrp_instance berth_${sanitize(plan.project)}_${sanitize(plan.environment)} {`,
    '  state BACKUP',
    '  nopreempt',
    `  interface ${VRRP_INTERFACE}`,
    `  virtual_router_id ${vrrpRouterId(plan.project, plan.environment)}`,
    `  priority ${200 - index}`,
    `  advert_int ${advert}`,
    `  unicast_src_ip ${self.address}`,
    '  unicast_peer {',
    ...peers.map((p) => `    ${p.address}`),
    '  }',
    '  virtual_ipaddress {',
    `    ${plan.address}/32 dev ${VRRP_INTERFACE}`,
    '  }',
    '  track_script {',
    '    berth_doors',
    '  }',
    '}',
    '',
  ].join('\n');
}

function vrrpEnv(plan: VrrpPlan, self: VrrpMember): string {
  return [`BERTH_VIP=${plan.address}`, `BERTH_SELF=${self.address}`, ''].join('\n');
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
