/**
 * What lab tests put on a lab host behind Berth's back, through the host's
 * unix socket: the tiny image, a flat Docker network on the lab bridge, a
 * container with a static IP and MAC on it.
 */
import { connectEngine, type Engine } from '../engine/client.js';
import { tinyRootTarball } from './fixture.js';
import type { Lab, LabHost } from './lab.js';
import { rawEngine, type RawEngine } from './raw-engine.js';
import { BUSYBOX } from './tiny-root.js';

export const LAB_IMAGE = 'berth-test-lab';
export const LAB_NETWORK = 'berth-lab-flat';

export function engineOf(host: LabHost): Engine {
  return connectEngine({ DOCKER_HOST: `unix://${host.socket}` });
}

/** The host's engine API itself, for what Berth's Engine does not show. */
export function rawEngineOf(host: LabHost): RawEngine {
  return rawEngine({ DOCKER_HOST: `unix://${host.socket}` });
}

/** The MAC a test gives the container at `ip`: locally administered, the address in its last four bytes. */
export function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/** Imports the tiny image into the host, creates the flat network on lab.bridge and starts a container at `ip`. */
export async function startFlatContainer(lab: Lab, host: LabHost, ip: string, project: string): Promise<{ id: string; mac: string }> {
  const engine = engineOf(host);
  const labels = { 'berth.project': project };
  await engine.images.importTarball(await tinyRootTarball(), LAB_IMAGE, project, labels);
  if (!(await engine.networks.inspect(LAB_NETWORK))) {
    // The host's own address as the pool's gateway: Docker 20.10 puts the gateway on the bridge, replacing the host's address.
    await engine.networks.create({
      Name: LAB_NETWORK,
      Driver: 'bridge',
      Labels: labels,
      CheckDuplicate: true,
      Options: { 'com.docker.network.bridge.name': lab.bridge, 'com.docker.network.bridge.enable_ip_masquerade': 'false' },
      IPAM: { Driver: 'default', Config: [{ Subnet: lab.subnet, Gateway: host.ip, AuxiliaryAddresses: { DefaultGatewayIPv4: lab.gateway } }] },
    });
  }
  const mac = macOf(ip);
  const id = await engine.containers.create({
    name: `${project}-${host.name}`,
    Image: `${LAB_IMAGE}:${project}`,
    Cmd: [BUSYBOX, 'sleep', '3600'],
    Labels: labels,
    MacAddress: mac,
    // An init forwards SIGTERM, so a stopped engine does not wait out the stop timeout of a PID 1 sleep.
    HostConfig: { NetworkMode: LAB_NETWORK, Init: true },
    NetworkingConfig: { EndpointsConfig: { [LAB_NETWORK]: { IPAMConfig: { IPv4Address: ip } } } },
  });
  await engine.containers.start(id);
  return { id, mac };
}
