import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceStatus } from '../../runtime/instances.js';
import { psLines } from './ps.js';

function instance(overrides: Partial<InstanceStatus>): InstanceStatus {
  return {
    slot: 'web-production-1',
    name: 'demo-web-production-1',
    service: 'web',
    environment: 'production',
    host: 'local',
    network: 'nat',
    id: 'abc',
    ip: '172.17.0.2',
    mac: null,
    ports: { '8080/tcp': 32768 },
    digest: 'sha256:0123456789abcdef',
    deployment: 1,
    state: 'running',
    health: 'healthy',
    startedAt: '2026-12-01T00:00:00Z',
    uptimeSeconds: 90,
    restarts: 0,
    ...overrides,
  };
}

describe('berth ps rendering', () => {
  it('lists what the hosts that answered run, the unreachable host\'s recorded slots as unknown, and a line per unreachable host with its reason', () => {
    const lines = psLines(
      [
        instance({}),
        instance({ slot: 'web-production-2', name: '', host: 'h2', id: '', ip: null, ports: {}, digest: '', deployment: null, state: 'unknown', health: 'unknown', startedAt: null, uptimeSeconds: null }),
      ],
      [{ host: 'h2', engine: 'tcp://127.0.0.1:1', error: 'cannot reach the Docker Engine at tcp://127.0.0.1:1 (ECONNREFUSED)' }],
    );
    assert.deepEqual(lines, [
      [
        'INSTANCE          ENV         HOST   NETWORK  IP          MAC  PORTS           DIGEST        STATE    HEALTH   UPTIME      RESTARTS',
        'web-production-1  production  local  nat      172.17.0.2  -    32768→8080/tcp  0123456789ab  running  healthy  1 min 30 s  0',
        'web-production-2  production  h2     nat      -           -    -               -             unknown  unknown  -           0',
      ].join('\n'),
      'host h2 unreachable: cannot reach the Docker Engine at tcp://127.0.0.1:1 (ECONNREFUSED); its 1 recorded instance(s) are shown as unknown',
    ]);
  });

  it('says there are no instances and still names the host that did not answer', () => {
    assert.deepEqual(psLines([], [{ host: 'h2', engine: 'tcp://127.0.0.1:1', error: 'timed out' }]), [
      'no instances; deploy a service with "berth deploy <service> --env <env>"',
      'host h2 unreachable: timed out',
    ]);
  });
});
