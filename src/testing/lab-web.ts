/**
 * What the lab's tests and benchmarks of a web service start from: the images of a busybox httpd
 * (`hello` at /, `ok` at /health.html, port 8080) on a tiny root, and the berth.yaml parts that name
 * a lab: its registry, its hosts over TLS, and a flat network `lan` on its LAN.
 *
 *   fixture = await makeFixture(await labWebImages());
 *   fixture.write('berth.yaml', stringify({ ...yaml, ...labYaml(lab, registry, [100, 140]), services, environments }));
 */
import type { FixtureImage } from './fixture.js';
import { tinyRootTarball } from './fixture.js';
import type { Lab } from './lab.js';
import type { LabRegistry } from './lab-registry.js';

export async function labWebImages(name = 'web'): Promise<Record<string, FixtureImage>> {
  return {
    base: { settings: { root: { tarball: await tinyRootTarball() } } },
    [name]: {
      settings: { from: 'base', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', '/www'] },
      static: '#!/bin/sh\nmkdir -p /www\necho hello > /www/index.html\necho ok > /www/health.html\n',
    },
  };
}

/** `registry`, `hosts` (each with its engine's socket, for its warden) and `networks.lan` (addresses .first to .last of the lab's subnet, no quarantine). */
export function labYaml(lab: Lab, registry: LabRegistry, [first, last]: [number, number]): Record<string, unknown> {
  return {
    registry: registry.yaml,
    hosts: lab.hosts.map((h) => h.yaml),
    networks: { lan: { mode: 'flat', bridge: lab.bridge, subnet: lab.subnet, gateway: lab.gateway, range: `${lab.address(first)}-${lab.address(last)}`, quarantine: '0s' } },
  };
}
