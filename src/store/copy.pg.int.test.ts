/**
 * `berth store copy` from an embedded store with releases, a rollout, slots, the address ledger,
 * tokens, events and an audit log onto an empty PostgreSQL database: every table the same rows and checksum, the ids kept
 * and counted on from, the audit head copied so the chain verifies on the copy; a target that is not
 * empty is refused and left as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditAction, verifyAuditLog } from '../access/audit.js';
import { readAuditHead, writeAuditHead } from '../access/audit-head.js';
import { runBerth } from '../testing/cli.js';
import { postgresForFile } from '../testing/postgres.js';
import { closeStore, openStore, openStoreAt } from './db.js';
import { saveSlot } from './deployments.js';
import { appendEvent } from './events.js';
import { bindIpamAllocation, claimIpamAddress, ipamAllocations, quarantineIpamAllocation } from './ipam.js';
import { tryLease } from './leases.js';
import { createRelease, startRollout } from './releases.js';
import { insertToken } from './tokens.js';

const cluster = postgresForFile();
const dir = mkdtempSync(join(tmpdir(), 'berth-store-copy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('berth store copy', () => {
  it('moves an embedded store onto an empty PostgreSQL database, verified per table, with its audit head; refuses a non-empty one', async () => {
    const from = join(dir, 'embedded');
    const db = await openStore(from);
    await insertToken(db, { name: 'admin', role: 'admin', envs: [], hash: 'h1', createdBy: 'bootstrap' });
    await insertToken(db, { name: 'ci', role: 'deployer', envs: ['dev'], hash: 'h2', createdBy: 'admin' });
    for (let i = 0; i < 3; i++) await createRelease(db, { service: 'web', image: 'web', imageId: `sha256:${i}`, digest: `sha256:d${i}`, repository: 'berth/web', config: '{}', createdBy: 'ci' });
    const taken = await tryLease(db, { service: 'web', environment: 'dev', rollout: 0, holder: 'h', pid: 1, hostname: 'h' }, 60_000);
    assert.ok('taken' in taken);
    const rollout = await startRollout(db, { service: 'web', environment: 'dev', release: 3, previous: 2, kind: 'release', forced: false, actor: 'ci', plan: '{"steps":[]}' }, taken.taken);
    await saveSlot(db, { environment: 'dev', slot: 'web-dev-1', service: 'web', ordinal: 1, host: 'a', network: 'n', hostPorts: {} });
    await appendEvent(db, { type: 'rollout-started', rollout, data: { rollout } });
    // The address ledger: one address bound to its container, one in quarantine.
    const at = Date.now();
    await claimIpamAddress(db, { network: 'lan', ip: '10.77.0.10', mac: '02:42:0a:4d:00:0a', slot: 'web-dev-1', incarnation: 1, now: at }, at);
    await bindIpamAllocation(db, 'lan', '10.77.0.10', 'c1');
    await claimIpamAddress(db, { network: 'lan', ip: '10.77.0.11', mac: '02:42:0a:4d:00:0b', slot: 'web-dev-2', incarnation: 1, now: at }, at);
    await quarantineIpamAllocation(db, 'lan', '10.77.0.11', at);
    const ledger = await ipamAllocations(db, 'lan');
    for (const action of ['token create', 'release', 'promote']) writeAuditHead(from, await auditAction(db, undefined, { actor: 'ci', action, target: 'web in dev', params: {}, outcome: 'ok' }));
    await closeStore(db);

    const url = await cluster().createDatabase('berth_copy');
    const env = { ...process.env, PGPASSWORD: cluster().password };
    const toState = join(dir, 'server-state');
    const copied = await runBerth(['store', 'copy', '--from', join(from, 'berth.db'), '--to', url, '--to-state', toState, '--json'], { env });
    assert.equal(copied.code, 0, copied.stderr);
    const report = JSON.parse(copied.stdout) as { tables: { table: string; rows: number; checksum: string }[]; audit: { entries: number; head: { seq: number } } };
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    assert.deepEqual([rows.tokens, rows.releases, rows.rollouts, rows.slots, rows.events, rows.audit, rows.leases, rows.ipam_allocations], [2, 3, 1, 1, 1, 3, 1, 2]);
    assert.equal(report.audit.entries, 3);
    assert.deepEqual(readAuditHead(toState), readAuditHead(from));

    // The copy is a store: its audit log verifies against the moved head, and ids count on from the copied ones.
    const copy = await openStoreAt(url, { passwordFile: cluster().passwordFile });
    try {
      assert.deepEqual(await verifyAuditLog(copy, toState), { ok: true, count: 3 });
      const byIp = (a: { ip: string }, b: { ip: string }) => a.ip.localeCompare(b.ip);
      assert.deepEqual((await ipamAllocations(copy, 'lan')).sort(byIp), ledger.sort(byIp), 'the address ledger, row for row');
      const next = await insertToken(copy, { name: 'after-copy', role: 'viewer', envs: [], hash: 'h3', createdBy: 'admin' });
      assert.equal(next.id, 3);
    } finally {
      await closeStore(copy);
    }

    const again = await runBerth(['store', 'copy', '--from', from, '--to', url], { env });
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /berth_copy is not empty: .*tokens \(3 rows\)/);
    assert.deepEqual((await cluster().query<{ name: string }>('berth_copy', 'SELECT name FROM tokens ORDER BY id')).map((r) => r.name), ['admin', 'ci', 'after-copy']);
  });
});
