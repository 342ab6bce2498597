import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeCheck } from './hosts.js';

const lan = { name: 'lan', bridge: 'br-lan', createBridge: false };
const local = { name: 'local', local: true };
const h2 = { name: 'h2', local: false };

describe("doctor's flat bridge check", () => {
  it('is ok when the bridge is on this machine and every host is local', () => {
    assert.deepEqual(bridgeCheck(lan, [local], () => true), { name: 'bridge br-lan', status: 'ok', detail: 'flat network lan: br-lan is on this machine (local)' });
  });

  it('fails when a local host lacks the bridge and Berth would not create it', () => {
    const check = bridgeCheck(lan, [local], () => false);
    assert.equal(check.status, 'fail');
    assert.equal(check.detail, "flat network lan's bridge br-lan is not on this machine (local)");
  });

  it('says it cannot check remote hosts instead of passing them', () => {
    assert.deepEqual(bridgeCheck(lan, [local, h2], () => true), {
      name: 'bridge br-lan',
      status: 'warn',
      detail: 'flat network lan: br-lan is on this machine (local); not checked on h2: Berth sees only this machine\'s interfaces, so make sure "br-lan" exists there (ip link show br-lan)',
    });
  });
});
