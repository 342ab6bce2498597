/**
 * A fleet of recorded instances for the API benchmarks (bench/server.ts, bench/ha.ts): every
 * service's slots saved with the deploy's store functions and their containers running on
 * FakeEngines, one image per host, nat ports numbered from 20000.
 */
import { RUN_LABELS } from '../src/runtime/labels.js';
import { containerName, slotName } from '../src/runtime/slots.js';
import type { Store } from '../src/store/db.js';
import { saveSlot } from '../src/store/deployments.js';
import type { FakeEngine } from '../src/testing/fake-engine.js';

export const hostName = (i: number) => `h${String(i + 1).padStart(3, '0')}`;
export const serviceName = (i: number) => `s${String(i + 1).padStart(2, '0')}`;

export interface FakeFleetShape {
  hosts: number;
  services: number;
  perService: number;
  /** Give each container a health check the fake reports healthy (as a deploy's instances have). */
  healthy: boolean;
}

export async function recordInstances(db: Store, project: string, fakes: Map<string, FakeEngine>, shape: FakeFleetShape): Promise<void> {
  const images = new Map([...fakes].map(([host, engine]) => [host, engine.images.add({ tags: [`${project}/web:bench`] })]));
  let n = 0;
  for (let s = 0; s < shape.services; s++) {
    for (let ordinal = 1; ordinal <= shape.perService; ordinal++, n++) {
      const service = serviceName(s);
      const slot = slotName(service, 'production', ordinal);
      const host = hostName(n % shape.hosts);
      const hostPort = 20000 + Math.floor(n / shape.hosts);
      await saveSlot(db, { environment: 'production', slot, service, ordinal, host, network: 'nat', hostPorts: { '8080/tcp': hostPort } });
      const engine = fakes.get(host)!;
      const id = await engine.containers.create({
        name: containerName(project, slot),
        Image: images.get(host)!,
        Labels: {
          [RUN_LABELS.project]: project,
          [RUN_LABELS.service]: service,
          [RUN_LABELS.environment]: 'production',
          [RUN_LABELS.instance]: slot,
          [RUN_LABELS.host]: host,
          [RUN_LABELS.network]: 'nat',
          [RUN_LABELS.digest]: `sha256:${'cd'.repeat(32)}`,
          [RUN_LABELS.spec]: 'f'.repeat(16),
          [RUN_LABELS.deployment]: '1',
          [RUN_LABELS.incarnation]: '1',
        },
        ExposedPorts: { '8080/tcp': {} },
        ...(shape.healthy ? { Healthcheck: { Test: ['CMD', '/opt/berth/bin/health'] } } : {}),
        HostConfig: { NetworkMode: 'bridge', PortBindings: { '8080/tcp': [{ HostPort: String(hostPort) }] } },
      });
      await engine.containers.start(id);
      if (shape.healthy) engine.setHealth(id, 'healthy');
    }
  }
}
