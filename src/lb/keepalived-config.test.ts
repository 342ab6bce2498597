import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { VRRP_CHECK, VRRP_INTERFACE, vrrpFiles, vrrpProblems, vrrpRouterId, type VrrpPlan } from './keepalived-config.js';

const PAIR: VrrpPlan = {
  project: 'shop',
  environment: 'production',
  address: '10.88.0.250',
  members: [
    { host: 'lb1', address: '10.88.0.11' },
    { host: 'lb2', address: '10.88.0.12' },
  ],
  doors: [
    { address: '0.0.0.0', port: 8080 },
    { address: '10.88.0.11', port: 8443 },
  ],
};

/** The lines of a block `name {` … its closing `}` (one level of nesting, as keepalived.conf has), trimmed. */
function block(conf: string, name: string): string[] {
  const lines = conf.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l === `${name} {`);
  assert.ok(start >= 0, `no block ${name} in\n${conf}`);
  const out: string[] = [];
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    if (line.endsWith('{')) depth++;
    if (line === '}') depth--;
    if (depth === 0) return out;
    out.push(line);
  }
  assert.fail(`block ${name} never closes`);
}

describe('keepalived.conf of a door pair', () => {
  const files = vrrpFiles(PAIR);
  const instance = 'vrrp_instance berth_shop_production';

  it('gives each member its own file: unicast to the other member from its own address, no multicast', () => {
    assert.deepEqual([...files.keys()], ['lb1', 'lb2']);
    const lb1 = block(files.get('lb1')!.keepalived, instance);
    const lb2 = block(files.get('lb2')!.keepalived, instance);
    assert.ok(lb1.includes('unicast_src_ip 10.88.0.11'));
    assert.deepEqual(block(files.get('lb1')!.keepalived, 'unicast_peer'), ['10.88.0.12']);
    assert.ok(lb2.includes('unicast_src_ip 10.88.0.12'));
    assert.deepEqual(block(files.get('lb2')!.keepalived, 'unicast_peer'), ['10.88.0.11']);
  });

  it('every member starts as BACKUP with nopreempt, one router id for the pair, the first host named ahead', () => {
    const lines = [...files.values()].map((f) => block(f.keepalived, instance));
    for (const l of lines) {
      assert.ok(l.includes('state BACKUP'));
      assert.ok(l.includes('nopreempt'));
      assert.ok(!l.some((x) => x.startsWith('state MASTER')));
    }
    const id = `virtual_router_id ${vrrpRouterId('shop', 'production')}`;
    assert.ok(lines.every((l) => l.includes(id)));
    const priority = (l: string[]) => Number(l.find((x) => x.startsWith('priority '))!.split(' ')[1]);
    assert.ok(priority(lines[0]!) > priority(lines[1]!), 'lb1 is named first');
    assert.ok(lines.every((l) => priority(l) >= 1 && priority(l) <= 254), 'keepalived takes 1..254 for a backup');
  });

  it('holds the shared address as /32 on the interface that has the member\'s own address, replaced at start', () => {
    const conf = files.get('lb1')!.keepalived;
    assert.deepEqual(block(conf, 'virtual_ipaddress'), [`10.88.0.250/32 dev ${VRRP_INTERFACE}`]);
    assert.ok(block(conf, instance).includes(`interface ${VRRP_INTERFACE}`));
    assert.equal(files.get('lb1')!.env, 'BERTH_VIP=10.88.0.250\nBERTH_SELF=10.88.0.11\n');
    assert.equal(files.get('lb2')!.env, 'BERTH_VIP=10.88.0.250\nBERTH_SELF=10.88.0.12\n');
  });

  it('tracks a check of every door of the environment (a door on all addresses asked on loopback); failing twice lets the address go', () => {
    const conf = files.get('lb2')!.keepalived;
    const script = block(conf, 'vrrp_script berth_doors');
    assert.ok(script.includes(`script "${VRRP_CHECK} 127.0.0.1:8080 10.88.0.11:8443"`));
    assert.ok(script.includes('fall 2'));
    assert.ok(script.includes('interval 1'));
    assert.deepEqual(block(conf, 'track_script'), ['berth_doors']);
  });

  it('announces the address by gratuitous ARP when a member takes it, and again while it holds it', () => {
    const global = block(files.get('lb1')!.keepalived, 'global_defs');
    assert.ok(global.includes('vrrp_garp_master_repeat 5'));
    assert.ok(global.includes('vrrp_garp_master_delay 1'));
    assert.ok(global.includes('vrrp_garp_master_refresh 10'));
  });

  it('three members: each lists the two others as peers', () => {
    const three = vrrpFiles({ ...PAIR, members: [...PAIR.members, { host: 'lb3', address: '10.88.0.13' }] });
    assert.deepEqual(block(three.get('lb2')!.keepalived, 'unicast_peer'), ['10.88.0.11', '10.88.0.13']);
    assert.deepEqual(block(three.get('lb3')!.keepalived, 'unicast_peer'), ['10.88.0.11', '10.88.0.12']);
  });

  it('the advertisement interval sets the check\'s too', () => {
    const slow = vrrpFiles({ ...PAIR, advertSeconds: 3 }).get('lb1')!.keepalived;
    assert.ok(block(slow, instance).includes('advert_int 3'));
    assert.ok(block(slow, 'vrrp_script berth_doors').includes('interval 3'));
  });
});

describe('the VRRP router id', () => {
  it('is 1..255, the same for one project and environment, and differs between the environments of a project', () => {
    const ids = ['dev', 'staging', 'production', 'qa'].map((e) => vrrpRouterId('shop', e));
    for (const id of ids) assert.ok(Number.isInteger(id) && id >= 1 && id <= 255);
    assert.equal(vrrpRouterId('shop', 'production'), ids[2]);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('a VRRP plan that cannot work', () => {
  it('names every problem: one member, a host without an address, a shared address that is a host\'s, a bad port', () => {
    assert.match(vrrpProblems({ ...PAIR, members: [PAIR.members[0]!] })[0]!, /two or more door hosts \(got 1\)/);
    assert.match(vrrpProblems({ ...PAIR, members: [PAIR.members[0]!, { host: 'lb2', address: '' }] })[0]!, /host lb2 has no IPv4 address of its own/);
    assert.match(vrrpProblems({ ...PAIR, members: [PAIR.members[0]!, { host: 'lb2', address: '10.88.0.11' }] })[0]!, /hosts share the address 10\.88\.0\.11/);
    assert.match(vrrpProblems({ ...PAIR, address: '10.88.0.12' })[0]!, /the shared address 10\.88\.0\.12 is host lb2's own/);
    assert.match(vrrpProblems({ ...PAIR, doors: [{ address: '0.0.0.0', port: 0 }] })[0]!, /door port 0 is not a port/);
    assert.deepEqual(vrrpProblems(PAIR), []);
  });

  it('is refused as invalid input, naming the environment and what to fix', () => {
    assert.throws(
      () => vrrpFiles({ ...PAIR, members: [PAIR.members[0]!] }),
      (error: unknown) => isBerthError(error) && error.kind === 'invalid' && /shop\/production: a shared address needs two or more door hosts/.test(error.message) && /front_door/.test(error.fix ?? ''),
    );
  });
});
