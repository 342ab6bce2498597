import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { doorsToCheck, vrrpAction, vrrpContainerName, vrrpCreateBody } from './vrrp-container.js';

describe("keepalived's container", () => {
  it('one per project and environment on a host: host network, only NET_ADMIN and NET_RAW, restarted unless stopped, labelled with its image', () => {
    assert.deepEqual(vrrpCreateBody({ project: 'shop', environment: 'production', image: 'berth/berth-door:0123456789ab' }), {
      name: 'berth-vrrp-shop-production',
      Image: 'berth/berth-door:0123456789ab',
      Cmd: ['/usr/bin/tini', '--', '/usr/local/bin/berth-door-vrrp'],
      Labels: { 'berth.project': 'shop', 'berth.vrrp': 'production', 'berth.vrrp.image': 'berth/berth-door:0123456789ab' },
      StopTimeout: 5,
      HostConfig: {
        NetworkMode: 'host',
        CapDrop: ['ALL'],
        CapAdd: ['NET_ADMIN', 'NET_RAW'],
        SecurityOpt: ['no-new-privileges'],
        RestartPolicy: { Name: 'unless-stopped' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    });
    assert.equal(vrrpContainerName('shop', 'staging'), 'berth-vrrp-shop-staging');
  });

  it("checks the environment's doors on the host by their bind, and no other environment's (a prefix is not a match)", () => {
    const door = (id: string, bind?: string) => ({ labels: { 'berth.project': 'shop', 'berth.door': id, ...(bind ? { 'berth.door.bind': bind } : {}) } });
    const seen = [door('prod-web', '0.0.0.0:8080'), door('prod-eu-web', '0.0.0.0:9090'), door('prod-api', '0.0.0.0:8081'), door('prod-web', '0.0.0.0:8080'), door('prod-old')];
    assert.deepEqual(doorsToCheck(seen, new Set(['prod-web', 'prod-api', 'prod-old'])), [
      { address: '0.0.0.0', port: 8080 },
      { address: '0.0.0.0', port: 8081 },
    ]);
    assert.deepEqual(doorsToCheck(seen, new Set(['staging-web'])), []);
  });

  it('is made, kept, reloaded (the address stays), replaced or removed', () => {
    const running = { running: true, image: 'i1', keepalived: 'conf A' };
    assert.equal(vrrpAction(undefined, undefined), 'none');
    assert.equal(vrrpAction(undefined, { image: 'i1', keepalived: 'conf A' }), 'create');
    assert.equal(vrrpAction(running, { image: 'i1', keepalived: 'conf A' }), 'keep');
    assert.equal(vrrpAction(running, { image: 'i1', keepalived: 'conf B' }), 'reload');
    assert.equal(vrrpAction(running, { image: 'i2', keepalived: 'conf A' }), 'replace', 'another door image');
    assert.equal(vrrpAction({ ...running, running: false }, { image: 'i1', keepalived: 'conf A' }), 'replace', 'stopped');
    assert.equal(vrrpAction(running, undefined), 'remove', 'the last door of the environment went');
  });
});
