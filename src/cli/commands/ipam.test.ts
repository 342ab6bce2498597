import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Ipam, poolFromNetwork } from '../../network/ipam.js';
import { loadProject } from '../../config/project.js';
import { closeStore, openStore } from '../../store/db.js';
import { saveSlot } from '../../store/deployments.js';
import { main } from '../main.js';
import type { Output } from '../output.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(networks: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-cli-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'images/base'), { recursive: true });
  writeFileSync(join(dir, 'images/base/static.sh'), '#!/bin/sh\n');
  chmodSync(join(dir, 'images/base/static.sh'), 0o755);
  writeFileSync(
    join(dir, 'berth.yaml'),
    `project: ipam-cli\nimages:\n  base:\n    root: { suite: bookworm }\nhosts:\n  - { name: h1, engine: "tcp://10.77.0.2:2375", insecure: true, address: 10.77.0.2 }\n${networks}`,
  );
  return dir;
}

const LAN = `networks:
  lan:
    mode: flat
    bridge: br-lan
    subnet: 10.77.0.0/24
    gateway: 10.77.0.1
    range: 10.77.0.100-10.77.0.104
    reserved: [10.77.0.101]
    mac_prefix: "06:42"
    quarantine: 30s
`;

async function berth(dir: string, ...args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const output: Output = { isTTY: false, color: false, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
  const code = await main(['ipam', '-p', dir, ...args], output, {}, dir);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/** Allocates through the module, as the deploy executor would. */
async function allocate(dir: string): Promise<void> {
  const p = loadProject(dir, {}, dir);
  const db = await openStore(p.stateDir);
  const ipam = new Ipam(db, [poolFromNetwork(p.networks.get('lan')!, p.hosts)]);
  await ipam.requestAddress('lan', 'production/web/1');
  await ipam.bind('lan', 'production/web/1', 'f3a9c0d2e1b4a5968778');
  await ipam.requestAddress('lan', 'production/api/1');
  await ipam.requestAddress('lan', 'production/api/2');
  await ipam.releaseAddress('lan', 'production/api/2');
  // Where the slots run (a move changes it; the address stays the slot's).
  await saveSlot(db, { environment: 'production', slot: 'production/web/1', service: 'web', ordinal: 1, host: 'h1', network: 'lan', hostPorts: {} });
  await saveSlot(db, { environment: 'production', slot: 'production/api/2', service: 'api', ordinal: 2, host: 'h1', network: 'lan', hostPorts: {} });
  await closeStore(db);
}

describe('berth ipam', () => {
  it('shows the pool, its usage, every allocation with its owner and the quarantined ones', async () => {
    const dir = project(LAN);
    await allocate(dir);
    const { code, stdout } = await berth(dir);
    assert.equal(code, 0);
    const lines = stdout.split('\n');
    assert.equal(lines[2], '');
    assert.deepEqual(lines.slice(0, 2), [
      'POOL  SUBNET        GATEWAY    RANGE                    SIZE  BOUND  ALLOCATED  QUARANTINED  FREE  RESERVED',
      'lan   10.77.0.0/24  10.77.0.1  10.77.0.100-10.77.0.104  4     1      1          1            1     10.77.0.1,10.77.0.2,10.77.0.101',
    ]);
    assert.match(lines[3]!, /^NETWORK +ADDRESS +MAC +SLOT +INCARNATION +STATE +CONTAINER +HOST +SINCE$/);
    assert.match(lines[4]!, /^lan +10\.77\.0\.100 +06:42:0a:4d:00:64 +production\/web\/1 +1 +bound +f3a9c0d2e1b4 +h1 +[\d.]+ m?s ago$/);
    assert.match(lines[5]!, /^lan +10\.77\.0\.102 +06:42:0a:4d:00:66 +production\/api\/1 +1 +allocated +- +- +/);
    assert.match(lines[6]!, /^lan +10\.77\.0\.103 +06:42:0a:4d:00:67 +production\/api\/2 +1 +quarantined, \d+\.\d s left +- +- +/);
  });

  it('prints the same as JSON with --json', async () => {
    const dir = project(LAN);
    await allocate(dir);
    const { code, stdout } = await berth(dir, '--json');
    assert.equal(code, 0);
    const json = JSON.parse(stdout) as { pools: { network: string; usage: unknown }[]; allocations: { slot: string; state: string; host: string | null; quarantineEndsAt: number | null; releasedAt: number | null }[] };
    assert.deepEqual(json.pools.map((p) => [p.network, p.usage]), [['lan', { size: 4, allocated: 1, bound: 1, quarantined: 1, free: 1 }]]);
    assert.deepEqual(json.allocations.map((a) => [a.slot, a.state, a.host]), [['production/web/1', 'bound', 'h1'], ['production/api/1', 'allocated', null], ['production/api/2', 'quarantined', null]]);
    assert.equal(json.allocations[2]!.quarantineEndsAt, json.allocations[2]!.releasedAt! + 30_000);
  });

  it('says so when there is no flat network', async () => {
    const { code, stdout } = await berth(project(''));
    assert.equal(code, 0);
    assert.match(stdout, /^no flat networks in .*berth\.yaml; IPAM manages the addresses of flat networks only$/);
  });

  it("rejects a flat network's bad addressing with exit code 2", async () => {
    const { code, stderr } = await berth(project(LAN.replace('"06:42"', '"07:42"')));
    assert.equal(code, 2);
    assert.equal(stderr.split('\n')[0], 'error (invalid input): berth.yaml:15: networks.lan.mac_prefix: 07:42 is a multicast prefix (the lowest bit of the first byte is set)');
  });
});
