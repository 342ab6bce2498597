/**
 * ARP around a move (pure): what runs the checks, and how to read their outcome. Before a moved
 * instance starts on its new host, nobody may answer for its IP (`arping -D`: duplicate address
 * detection); once it runs, it announces itself (`arping -U`: gratuitous ARP) so switches and
 * neighbours learn its new port at once.
 *
 * Where the host runs a warden, the warden does both, each one exec in its container (host
 * network, Debian's busybox-static): the check from the flat network's Linux bridge on the host,
 * the announcement inside the instance's own network namespace (nsenter by its pid), so it goes
 * out with the instance's MAC as before. Otherwise two helper containers do it, running the static
 * busybox copied into the service's own image (present on that host), so no other image must reach it.
 */
import type { CreateBody } from '../engine/containers.js';
import { conflict, failed, type BerthError } from '../errors.js';

/** Where the static busybox goes inside a helper (copied to `/` before it starts); busybox picks its applet by that name, so it keeps it. */
export const HELPER_BUSYBOX = '/berth-arp/busybox';
export const HELPER_LABEL = 'berth.helper';

export type ProbeOutcome = { free: true } | { free: false; mac: string } | { error: string };

/** The busybox of the warden's image (Debian's busybox-static). */
export const WARDEN_BUSYBOX = '/bin/busybox';

/** `busybox arping -D` exits 1 when someone answered, printing `Unicast reply from <ip> [<mac>]`, and 0 when nobody did. */
export function probeArgs(ip: string, iface = 'eth0', busybox = HELPER_BUSYBOX): string[] {
  return [busybox, 'arping', '-D', '-c', '2', '-w', '3', '-I', iface, ip];
}

/** Two unsolicited ARP announcements of `ip` from the instance's own interface (so with its MAC). */
export function announceArgs(ip: string, busybox = HELPER_BUSYBOX): string[] {
  return [busybox, 'arping', '-U', '-c', '2', '-I', 'eth0', ip];
}

/**
 * The duplicate check as the warden runs it: the same arping, from the host's side of the flat
 * network (its Linux bridge, which reaches the LAN and the host's own containers alike). The
 * instance's container is created, not started, so nothing of it answers yet.
 */
export function wardenProbeCommand(bridge: string, ip: string): string[] {
  return probeArgs(ip, bridge, WARDEN_BUSYBOX);
}

/** The announcement as the warden runs it: the same arping inside the running instance's network namespace (so from its eth0 and MAC). */
export function wardenAnnounceCommand(pid: number, ip: string): string[] {
  return [WARDEN_BUSYBOX, 'nsenter', `--net=/proc/${pid}/ns/net`, ...announceArgs(ip, WARDEN_BUSYBOX)];
}

export function readProbe(ip: string, exitCode: number, output: string): ProbeOutcome {
  const reply = new RegExp(`reply from ${ip.replaceAll('.', '\\.')} \\[([0-9a-fA-F:]{17})\\]`).exec(output);
  if (reply) return { free: false, mac: reply[1]!.toLowerCase() };
  if (exitCode === 0 && /Received 0 response/.test(output)) return { free: true };
  return { error: `arping exited with ${exitCode}: ${output.trim().split('\n').slice(-3).join(' / ') || 'no output'}` };
}

export interface HelperInput {
  /** The image the helper runs (the service's own, already on the host); its entrypoint is replaced. */
  image: string;
  name: string;
  labels: Record<string, string>;
}

/** The duplicate check: a helper on the flat Docker network holding the slot's IP (its own container is not started yet), MAC left to the engine. */
export function probeHelperBody(input: HelperInput & { dockerNetwork: string; ip: string }): CreateBody {
  return {
    ...helperBase(input, probeArgs(input.ip)),
    HostConfig: { NetworkMode: input.dockerNetwork },
    NetworkingConfig: { EndpointsConfig: { [input.dockerNetwork]: { IPAMConfig: { IPv4Address: input.ip } } } },
  };
}

/** The announcement: a helper in the running instance's network namespace. */
export function announceHelperBody(input: HelperInput & { container: string; ip: string }): CreateBody {
  return { ...helperBase(input, announceArgs(input.ip)), HostConfig: { NetworkMode: `container:${input.container}` } };
}

function helperBase(input: HelperInput, argv: string[]): CreateBody {
  // Root for the raw socket (CAP_NET_RAW is among the engine's default capabilities).
  return { name: input.name, Image: input.image, Entrypoint: argv, Cmd: [], User: '0', Labels: { ...input.labels, [HELPER_LABEL]: 'arp' } };
}

/** Someone answered for the address: starting the instance would make it answer twice. */
export function duplicateAddress(slot: string, host: string, ip: string, mac: string): BerthError {
  return conflict(`refusing to start ${slot} on ${host}: ${ip} is already answered on the LAN by ${mac}`, {
    lines: ['an address must never answer twice: the old host may be unreachable while its container still runs'],
    fix: `stop whatever answers for ${ip} (MAC ${mac}; on the old host: docker ps --filter label=berth.instance=${slot}), then run the command again`,
  });
}

export function probeFailed(slot: string, host: string, ip: string, error: string): BerthError {
  return failed(`could not check that nobody answers for ${ip} before starting ${slot} on ${host}: ${error}`, {
    fix: 'check that the host runs containers of the image and allows raw sockets (CAP_NET_RAW), then run the command again',
  });
}
