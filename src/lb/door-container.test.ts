import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doorContainerName, doorCreateBody } from './door-container.js';
import { sumProxies, sumServers } from './front-door.js';
import { emptyProxyStats } from './runtime-api.js';
import type { ServerStats } from './model.js';

describe("a door's container", () => {
  const spec = { id: 'production-web', bind: { address: '10.88.0.250', port: 8080 } };

  it('runs on the host network with only NET_BIND_SERVICE, restarts unless stopped, weighs more than an instance on a busy CPU, and stops softly', () => {
    assert.deepEqual(doorCreateBody({ project: 'shop', spec, image: 'berth/berth-door:0123456789ab', vrrp: false }), {
      name: 'berth-door-shop-production-web',
      Image: 'berth/berth-door:0123456789ab',
      Labels: { 'berth.project': 'shop', 'berth.door': 'production-web', 'berth.door.bind': '10.88.0.250:8080', 'berth.door.vrrp': 'false' },
      StopSignal: 'SIGUSR1',
      StopTimeout: 30,
      HostConfig: {
        NetworkMode: 'host',
        CapDrop: ['ALL'],
        CapAdd: ['NET_BIND_SERVICE'],
        SecurityOpt: ['no-new-privileges'],
        RestartPolicy: { Name: 'unless-stopped' },
        CpuShares: 4096,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    });
  });

  it('a door behind a shared address says so in its label but gets no more capabilities (keepalived has its own container)', () => {
    const body = doorCreateBody({ project: 'shop', spec, image: 'x', vrrp: true });
    assert.deepEqual(body.HostConfig?.CapAdd, ['NET_BIND_SERVICE']);
    assert.equal(body.Labels?.['berth.door.vrrp'], 'true');
    assert.equal(doorContainerName('shop', 'dev-api'), 'berth-door-shop-dev-api');
  });
});

describe("a door's counters over its members", () => {
  const server = (name: string, requests: number, fivexx: number, weight = 100): ServerStats => ({
    name,
    address: '10.0.0.1:8080',
    status: 'UP',
    state: 'ready',
    weight,
    current: 1,
    total: requests,
    requests,
    responses: { '2xx': requests - fivexx, '3xx': 0, '4xx': 0, '5xx': fivexx, other: 0 },
    errors: { connect: 1, response: 0, retried: 0, redispatched: 2 },
  });

  it('sums each server by name: a canary is judged on what every member sent it', () => {
    const summed = sumServers([[server('web-1', 10, 1), server('web-2', 5, 0, 10)], [server('web-2', 7, 2, 10)], []]);
    assert.deepEqual(summed.map((s) => [s.name, s.weight, s.requests, s.responses['2xx'], s.responses['5xx'], s.current, s.errors.redispatched]), [
      ['web-1', 100, 10, 9, 1, 1, 2],
      ['web-2', 10, 12, 10, 2, 2, 4],
    ]);
  });

  it('sums frontends, keeping the first status', () => {
    const a = { ...emptyProxyStats(), status: 'OPEN', requests: 3, retries: 1 };
    const b = { ...emptyProxyStats(), status: 'OPEN', requests: 4, redispatches: 2 };
    const sum = sumProxies([a, b]);
    assert.deepEqual([sum.status, sum.requests, sum.retries, sum.redispatches], ['OPEN', 7, 1, 2]);
    assert.deepEqual(sumProxies([]), emptyProxyStats());
  });
});
