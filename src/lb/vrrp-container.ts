/**
 * keepalived's container (pure): one per project, environment and door host,
 * from the door's image, holding the environment's shared address for all of
 * its doors on that host. One per environment, not one per door: two keepalived
 * processes on one host claiming one address take it from each other (the one
 * that falls back to BACKUP deletes the address the other still serves).
 */
import type { CreateBody } from '../engine/containers.js';
import { splitHostPort } from './haproxy-config.js';
import { DOOR_LABELS } from './door-container.js';
import { DOOR_PATHS } from './door-image.js';

export const VRRP_LABELS = {
  project: 'berth.project',
  /** The environment whose doors it serves. */
  vrrp: 'berth.vrrp',
  /** The door image it was made from: another one needs a new container. */
  image: 'berth.vrrp.image',
} as const;

/** Seconds keepalived has to let the address go (it tells its peers, which take it at once). */
export const VRRP_STOP_SECONDS = 5;

/** berth-vrrp-<project>-<environment>. */
export function vrrpContainerName(project: string, environment: string): string {
  return `berth-vrrp-${project}-${environment}`;
}

export function vrrpCreateBody(input: { project: string; environment: string; image: string }): CreateBody {
  return {
    name: vrrpContainerName(input.project, input.environment),
    Image: input.image,
    Cmd: ['/usr/bin/tini', '--', DOOR_PATHS.vrrp],
    Labels: { [VRRP_LABELS.project]: input.project, [VRRP_LABELS.vrrp]: input.environment, [VRRP_LABELS.image]: input.image },
    StopTimeout: VRRP_STOP_SECONDS,
    HostConfig: {
      // The host's interfaces: keepalived adds the address there and speaks VRRP on the LAN.
      NetworkMode: 'host',
      CapDrop: ['ALL'],
      // Adding and removing the address (NET_ADMIN); VRRP packets and gratuitous ARP (NET_RAW).
      CapAdd: ['NET_ADMIN', 'NET_RAW'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'unless-stopped' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/** A door container as one host's engine lists it. */
export interface SeenDoor {
  labels: Record<string, string>;
}

/** The doors of the environment among a host's containers (by their ids: env-service), as the check asks them, sorted. */
export function doorsToCheck(seen: readonly SeenDoor[], doorIds: ReadonlySet<string>): { address: string; port: number }[] {
  const binds = seen.filter((d) => doorIds.has(d.labels[DOOR_LABELS.door] ?? '')).flatMap((d) => {
    const bind = d.labels[DOOR_LABELS.bind];
    return bind ? [bind] : [];
  });
  return [...new Set(binds)].sort().map((bind) => splitHostPort(bind));
}

/** keepalived's container on one host as its engine shows it. */
export interface VrrpObserved {
  running: boolean;
  /** Its label: the image it was made from. */
  image: string;
  /** The keepalived.conf in it (before the interface is filled in). */
  keepalived: string;
}

/** What it should be; undefined when the environment has no door on the host. */
export interface VrrpDesired {
  image: string;
  keepalived: string;
}

/**
 * - `keep`: running with this image and this configuration;
 * - `reload`: running with this image, other configuration (a door came or went): new files, then SIGHUP, the address stays;
 * - `replace`: stopped, or another image: removed and made again;
 * - `create`, `remove`, `none`.
 */
export type VrrpAction = 'keep' | 'reload' | 'replace' | 'create' | 'remove' | 'none';

export function vrrpAction(observed: VrrpObserved | undefined, desired: VrrpDesired | undefined): VrrpAction {
  if (!desired) return observed ? 'remove' : 'none';
  if (!observed) return 'create';
  if (!observed.running || observed.image !== desired.image) return 'replace';
  return observed.keepalived === desired.keepalived ? 'keep' : 'reload';
}
