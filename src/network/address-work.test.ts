/** Who does a move's address work on a FakeEngine: the warden when it can, a helper container when it cannot, and a reply always refuses. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeEngine } from '../testing/fake-engine.js';
import { announceMovedAddress, checkAddressFree } from './address-work.js';

const WARDEN = 'berth-warden';
const IP = '10.9.0.7';
const SILENT = `ARPING ${IP} from 0.0.0.0 br0\nSent 2 probe(s) (0 broadcast(s))\nReceived 0 response(s) (0 request(s), 0 broadcast(s))\n`;
const ANSWERED = `ARPING ${IP} from 0.0.0.0 eth0\nUnicast reply from ${IP} [0E:C2:21:5A:22:63] 0.029ms\nSent 1 probe(s) (0 broadcast(s))\nReceived 1 response(s) (0 request(s), 0 broadcast(s))\n`;

describe("a move's address work: the warden, else helper containers", () => {
  let engine: FakeEngine;
  let image: string;
  const stop = new AbortController();
  /** What the warden's next arping prints and exits with (undefined: no script answers). */
  let warden: { exitCode: number; output: string } | undefined;
  /** What the next duplicate-check helper prints (and exits 1 on a reply, 0 otherwise). */
  let helperSays = SILENT;
  const helpers: string[] = [];
  const wardenCalls: string[][] = [];
  const target = (what: string) => ({ slot: 'web-prod-1', host: 'h2', ip: IP, image, labels: { 'berth.instance': 'web-prod-1' }, name: `shop.web-prod-1-${what}` });

  before(async () => {
    engine = new FakeEngine({ endpoint: 'fake://h2' });
    image = engine.addImage({ tags: ['web:1'] });
    await engine.networks.create({ Name: 'lan', Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] }, Labels: {}, CheckDuplicate: true });
    engine.scriptExec((c, cmd) => {
      if (c.name !== WARDEN) return undefined;
      wardenCalls.push(cmd);
      return warden;
    });
    void (async () => {
      for await (const e of engine.events({ type: ['container'], event: ['start'] }, stop.signal)) {
        const name = e.attributes.name ?? '';
        if (!name.endsWith('-arp-check') && !name.endsWith('-arp-announce')) continue;
        helpers.push(name);
        if (name.endsWith('-arp-check')) engine.write(e.id, helperSays);
        engine.exit(e.id, name.endsWith('-arp-check') && helperSays === ANSWERED ? 1 : 0);
      }
    })().catch(() => {});
  });
  after(() => stop.abort());

  const fresh = () => {
    helpers.splice(0);
    wardenCalls.splice(0);
    helperSays = SILENT;
  };

  it('no warden on the host: the helper container checks, and says why it did', async () => {
    fresh();
    const done = await checkAddressFree(engine, WARDEN, { ...target('arp-check'), dockerNetwork: 'lan', bridge: 'br0' });
    assert.deepEqual(done, { by: 'helper', instead: 'no warden on the host' });
    assert.deepEqual(helpers, ['shop.web-prod-1-arp-check']);
  });

  describe('with a warden running', () => {
    before(async () => {
      const id = await engine.containers.create({ name: WARDEN, Image: image, HostConfig: { NetworkMode: 'host' } });
      await engine.containers.start(id);
    });

    it('nobody answers: the warden alone checked, from the bridge', async () => {
      fresh();
      warden = { exitCode: 0, output: SILENT };
      assert.deepEqual(await checkAddressFree(engine, WARDEN, { ...target('arp-check'), dockerNetwork: 'lan', bridge: 'br0' }), { by: 'warden' });
      assert.deepEqual(wardenCalls, [['/bin/busybox', 'arping', '-D', '-c', '2', '-w', '3', '-I', 'br0', IP]]);
      assert.deepEqual(helpers, []);
    });

    it("the warden's check could not run: never taken for free, the helper checks instead, and a reply there still refuses", async () => {
      fresh();
      warden = { exitCode: 2, output: 'arping: interface br0 not found\n' };
      const done = await checkAddressFree(engine, WARDEN, { ...target('arp-check'), dockerNetwork: 'lan', bridge: 'br0' });
      assert.equal(done.by, 'helper');
      assert.match(done.instead!, /the warden's check could not run: arping exited with 2: arping: interface br0 not found/);
      assert.deepEqual(helpers, ['shop.web-prod-1-arp-check']);
      fresh();
      helperSays = ANSWERED;
      await assert.rejects(checkAddressFree(engine, WARDEN, { ...target('arp-check'), dockerNetwork: 'lan', bridge: 'br0' }), { kind: 'conflict', message: /10\.9\.0\.7 is already answered on the LAN by 0e:c2:21:5a:22:63/ });
    });

    it('a network without a bridge name: the helper checks', async () => {
      fresh();
      warden = { exitCode: 0, output: SILENT };
      const done = await checkAddressFree(engine, WARDEN, { ...target('arp-check'), dockerNetwork: 'lan' });
      assert.deepEqual([done.by, wardenCalls.length, helpers.length], ['helper', 0, 1]);
    });

    it('the announcement: in the instance\'s namespace by its pid; a warden that cannot enter it (exit 1) leaves it to the helper, as does a missing pid', async () => {
      fresh();
      warden = { exitCode: 0, output: '' };
      assert.deepEqual(await announceMovedAddress(engine, WARDEN, { ...target('arp-announce'), container: 'c0ffee', pid: 4242 }), { by: 'warden' });
      assert.deepEqual(wardenCalls, [['/bin/busybox', 'nsenter', '--net=/proc/4242/ns/net', '/bin/busybox', 'arping', '-U', '-c', '2', '-I', 'eth0', IP]]);
      assert.deepEqual(helpers, []);

      fresh();
      const instance = await engine.containers.create({ name: 'shop.web-prod-1', Image: image });
      await engine.containers.start(instance);
      warden = { exitCode: 1, output: 'nsenter: setns: Operation not permitted\n' };
      const refused = await announceMovedAddress(engine, WARDEN, { ...target('arp-announce'), container: instance, pid: 4242 });
      assert.deepEqual([refused.by, refused.problem], ['helper', undefined]);
      assert.match(refused.instead!, /exited with 1: nsenter: setns: Operation not permitted/);
      assert.deepEqual(helpers, ['shop.web-prod-1-arp-announce']);

      fresh();
      const noPid = await announceMovedAddress(engine, WARDEN, { ...target('arp-announce'), container: instance });
      assert.deepEqual([noPid.by, wardenCalls.length, helpers.length], ['helper', 0, 1]);
    });
  });
});
