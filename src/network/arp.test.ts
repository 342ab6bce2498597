import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announceHelperBody, duplicateAddress, probeHelperBody, readProbe, wardenAnnounceCommand, wardenProbeCommand } from './arp.js';

// What Debian's busybox 1.35 arping prints (captured between two network namespaces).
const ANSWERED = `ARPING 10.250.0.2 from 0.0.0.0 eth0
Unicast reply from 10.250.0.2 [0E:C2:21:5A:22:63] 0.029ms
Sent 1 probe(s) (0 broadcast(s))
Received 1 response(s) (0 request(s), 0 broadcast(s))
`;
const SILENT = `ARPING 10.250.0.9 from 0.0.0.0 eth0
Sent 2 probe(s) (0 broadcast(s))
Received 0 response(s) (0 request(s), 0 broadcast(s))
`;

test('a reply to the duplicate check names the MAC that answered', () => {
  assert.deepEqual(readProbe('10.250.0.2', 1, ANSWERED), { free: false, mac: '0e:c2:21:5a:22:63' });
});

test('no reply and exit 0: the address is free', () => {
  assert.deepEqual(readProbe('10.250.0.9', 0, SILENT), { free: true });
});

test('a reply for another address does not count, and a helper that could not run is an error, never "free"', () => {
  assert.ok('error' in readProbe('10.250.0.22', 1, ANSWERED));
  const broken = readProbe('10.250.0.9', 1, 'arping: socket(AF_PACKET,2,0): Operation not permitted\n');
  assert.ok('error' in broken && /Operation not permitted/.test(broken.error));
});

test('the probe helper holds the slot IP on the flat network and runs arping -D as root; the announcer shares the instance namespace', () => {
  const probe = probeHelperBody({ image: 'sha256:abc', name: 'p.web-prod-1-arp', labels: { 'berth.instance': 'web-prod-1' }, dockerNetwork: 'berth-p-lan', ip: '10.0.0.7' });
  assert.deepEqual(probe.Entrypoint, ['/berth-arp/busybox', 'arping', '-D', '-c', '2', '-w', '3', '-I', 'eth0', '10.0.0.7']);
  assert.equal(probe.User, '0');
  assert.deepEqual(probe.HostConfig, { NetworkMode: 'berth-p-lan' });
  assert.deepEqual(probe.NetworkingConfig, { EndpointsConfig: { 'berth-p-lan': { IPAMConfig: { IPv4Address: '10.0.0.7' } } } });
  assert.equal(probe.Labels!['berth.helper'], 'arp');
  const announce = announceHelperBody({ image: 'sha256:abc', name: 'p.web-prod-1-announce', labels: {}, container: 'c0ffee', ip: '10.0.0.7' });
  assert.deepEqual(announce.Entrypoint, ['/berth-arp/busybox', 'arping', '-U', '-c', '2', '-I', 'eth0', '10.0.0.7']);
  assert.deepEqual(announce.HostConfig, { NetworkMode: 'container:c0ffee' });
  assert.equal(announce.NetworkingConfig, undefined);
});

test('the refusal names the slot, the host, the IP and the MAC that answered', () => {
  const e = duplicateAddress('web-prod-1', 'h3', '10.0.0.7', '02:42:0a:00:00:07');
  assert.equal(e.kind, 'conflict');
  assert.match(e.message, /web-prod-1 on h3: 10\.0\.0\.7 is already answered on the LAN by 02:42:0a:00:00:07/);
});

test("the warden runs the same arping: -D from the flat network's bridge, -U inside the instance's namespace by its pid", () => {
  assert.deepEqual(wardenProbeCommand('br-lan', '10.0.0.7'), ['/bin/busybox', 'arping', '-D', '-c', '2', '-w', '3', '-I', 'br-lan', '10.0.0.7']);
  assert.deepEqual(wardenAnnounceCommand(4242, '10.0.0.7'), ['/bin/busybox', 'nsenter', '--net=/proc/4242/ns/net', '/bin/busybox', 'arping', '-U', '-c', '2', '-I', 'eth0', '10.0.0.7']);
});
