import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceSpec } from '../config/model.js';
import { apiAtLeast, slotBody, type SlotInput } from './instance-spec.js';

const service: ServiceSpec = {
  name: 'api',
  image: 'api-image',
  ports: [8080],
  env: { MODE: 'x' },
  configFiles: [{ source: '/etc/berth/app.conf', target: '/srv/app.conf' }],
  secrets: { DB_PASSWORD: { env: 'DB_PASSWORD' } },
  health: { kind: 'http', path: '/healthz', port: 8080, intervalMs: 2000, timeoutMs: 1000, healthyAfter: 1, unhealthyAfter: 3, minHealthyMs: 0, startPeriodMs: 0 },
  resources: { cpus: 0.5, memoryBytes: 256 * 1024 * 1024 },
  restart: 'unless-stopped',
  replicas: 2,
  stopGraceSeconds: 10,
  rollout: { batchSize: 1, maxUnavailable: 1, maxSurge: 0, drainMs: 10_000 },
  canary: { watchMs: 30_000, minRequests: 20, tolerance: 0.05, inconclusiveLimit: 3 },
};

const input = (overrides: Partial<SlotInput> = {}): SlotInput => ({
  project: 'p',
  service,
  environment: 'production',
  env: service.env,
  slot: 'api-production-1',
  host: 'local',
  image: { id: 'sha256:aaa', digest: 'sha256:ddd' },
  network: { mode: 'flat', name: 'lan', dockerName: 'berth-p-lan', ip: '10.0.0.10', mac: '02:42:0a:00:00:0a' },
  apiVersion: '1.41',
  hostPorts: {},
  contents: { secretsMac: 'mac-1', configs: { '/srv/app.conf': '444:c0ffee' } },
  ...overrides,
});

describe('a slot’s container body', () => {
  it('on a flat network with API 1.41: static IP per endpoint, MAC per container, no port mapping', () => {
    const { body } = slotBody(input());
    assert.equal(body.MacAddress, '02:42:0a:00:00:0a');
    assert.deepEqual(body.NetworkingConfig!.EndpointsConfig['berth-p-lan'], { IPAMConfig: { IPv4Address: '10.0.0.10' }, Aliases: ['api-production-1', 'api'] });
    assert.equal(body.HostConfig!.PortBindings, undefined);
    assert.ok(body.Env!.includes('BERTH_IP=10.0.0.10'));
    assert.ok(body.Env!.includes('BERTH_MAC=02:42:0a:00:00:0a'));
  });

  it('with API 1.44 the MAC goes on the endpoint', () => {
    const { body } = slotBody(input({ apiVersion: '1.44' }));
    assert.equal(body.MacAddress, undefined);
    assert.equal(body.NetworkingConfig!.EndpointsConfig['berth-p-lan']!.MacAddress, '02:42:0a:00:00:0a');
  });

  it('names, labels, health check, resources, restart policy, and no mounts (secrets and config files are copied in)', () => {
    const { body } = slotBody(input());
    // The container's name carries the project, so another project's api-production-1 never takes it.
    assert.equal(body.name, 'p.api-production-1');
    assert.equal(body.Hostname, 'api-production-1');
    assert.equal(body.Labels!['berth.instance'], 'api-production-1');
    assert.equal(body.Labels!['berth.digest'], 'sha256:ddd');
    assert.deepEqual(body.Healthcheck!.Test, ['CMD', '/opt/berth/bin/health', 'http', '8080', '/healthz']);
    assert.equal(body.Healthcheck!.Interval, 2_000_000_000);
    assert.equal(body.HostConfig!.NanoCpus, 500_000_000);
    assert.equal(body.HostConfig!.Memory, 268435456);
    assert.deepEqual(body.HostConfig!.RestartPolicy, { Name: 'unless-stopped' });
    assert.equal(body.HostConfig!.Binds, undefined);
    assert.equal(body.HostConfig!.Mounts, undefined);
  });

  it('in an environment of two or more hosts the engine restarts nothing (a moved instance\'s stale container must not start with its engine); alone, it keeps berth.yaml\'s restart', () => {
    assert.deepEqual(slotBody(input({ environmentHosts: 3 })).body.HostConfig!.RestartPolicy, { Name: '' });
    assert.deepEqual(slotBody(input({ environmentHosts: 2, service: { ...service, restart: 'always' } })).body.HostConfig!.RestartPolicy, { Name: '' });
    assert.deepEqual(slotBody(input({ environmentHosts: 1, service: { ...service, restart: 'always' } })).body.HostConfig!.RestartPolicy, { Name: 'always' });
  });

  it('the spec hash sees berth.yaml\'s restart, not the engine\'s policy: an instance made before is not replaced for it', () => {
    // Both values computed by the code before the engine's policy depended on the hosts (warden-arp 0af1388).
    assert.equal(slotBody(input({ environmentHosts: 3 })).specHash, '56bcb1041a9e7840');
    assert.equal(slotBody(input({ environmentHosts: 1 })).specHash, '56bcb1041a9e7840');
    assert.equal(slotBody(input({ environmentHosts: 3, service: { ...service, restart: 'always' } })).specHash, '51b7cc812a2394eb', 'a change of restart in berth.yaml is still a change');
  });

  it('never puts a secret value in the body', () => {
    const text = JSON.stringify(slotBody(input()).body);
    assert.doesNotMatch(text, /DB_PASSWORD=/);
  });

  it('nat maps each port to the slot’s kept host port, or lets the engine pick one', () => {
    const nat = { mode: 'nat' as const, name: 'nat', dockerName: 'berth-p-nat' };
    assert.deepEqual(slotBody(input({ network: nat })).body.HostConfig!.PortBindings, { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] });
    assert.deepEqual(slotBody(input({ network: nat, hostPorts: { '8080/tcp': 32768 } })).body.HostConfig!.PortBindings, { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }] });
  });

  it('host mode sets no hostname, ports or endpoint', () => {
    const { body } = slotBody(input({ network: { mode: 'host', name: 'host', dockerName: 'host' } }));
    assert.equal(body.Hostname, undefined);
    assert.equal(body.NetworkingConfig, undefined);
    assert.equal(body.HostConfig!.NetworkMode, 'host');
  });

  it('the spec hash changes with the image or the address, not with the host port the engine picked', () => {
    const base = slotBody(input()).specHash;
    assert.equal(slotBody(input()).specHash, base);
    assert.notEqual(slotBody(input({ image: { id: 'sha256:bbb', digest: 'sha256:eee' } })).specHash, base);
    assert.notEqual(slotBody(input({ network: { mode: 'flat', name: 'lan', dockerName: 'berth-p-lan', ip: '10.0.0.11', mac: '02:42:0a:00:00:0b' } })).specHash, base);
    const nat = { mode: 'nat' as const, name: 'nat', dockerName: 'berth-p-nat' };
    assert.equal(slotBody(input({ network: nat })).specHash, slotBody(input({ network: nat, hostPorts: { '8080/tcp': 40000 } })).specHash);
  });

  it('the spec hash changes with the secrets\' MAC or a config file\'s digest, and the body does not carry them', () => {
    const base = slotBody(input());
    assert.notEqual(slotBody(input({ contents: { secretsMac: 'mac-2', configs: { '/srv/app.conf': '444:c0ffee' } } })).specHash, base.specHash);
    assert.notEqual(slotBody(input({ contents: { secretsMac: 'mac-1', configs: { '/srv/app.conf': '444:beef' } } })).specHash, base.specHash);
    assert.doesNotMatch(JSON.stringify(base.body), /mac-1|c0ffee/);
  });

  it('compares API versions numerically', () => {
    assert.ok(apiAtLeast('1.44', '1.44'));
    assert.ok(apiAtLeast('1.45', '1.44'));
    assert.ok(!apiAtLeast('1.41', '1.44'));
    assert.ok(apiAtLeast('2.0', '1.44'));
  });
});
