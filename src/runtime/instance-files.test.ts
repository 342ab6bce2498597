import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { configMode, instanceArchive, resolveOwner, serviceUser, type InstanceFiles } from './instance-files.js';

interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  content: string;
}

async function entriesOf(tar: Buffer): Promise<Entry[]> {
  const unpack = extract();
  unpack.end(tar);
  const entries: Entry[] = [];
  for await (const entry of unpack) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const h = entry.header;
    entries.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? -1, gid: h.gid ?? -1, content: Buffer.concat(chunks).toString('utf8') });
  }
  return entries;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n# a comment\napp:x:1000:1000::/tmp:/bin/sh\nsvc:x:1001:1002:svc:/home/svc:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\nsvc:x:1002:\nextra:x:1003:svc\n';

describe('the archive copied into an instance', () => {
  it('holds /run/secrets (0500) and each secret (0400) owned by the service user, and config files at their targets owned by root', async () => {
    const files: InstanceFiles = {
      secrets: new Map([['DB_PASSWORD', 'pa ss\nword'], ['API_TOKEN', 't0k']]),
      configs: [
        { target: '/etc/app/app.conf', content: Buffer.from('port=8080\n'), mode: 0o444 },
        { target: '/srv/bin/hook.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o555 },
      ],
    };
    const entries = await entriesOf(await instanceArchive(files, { uid: 1001, gid: 1002 }));
    assert.deepEqual(entries, [
      { name: 'run/secrets/', type: 'directory', mode: 0o500, uid: 1001, gid: 1002, content: '' },
      { name: 'run/secrets/DB_PASSWORD', type: 'file', mode: 0o400, uid: 1001, gid: 1002, content: 'pa ss\nword' },
      { name: 'run/secrets/API_TOKEN', type: 'file', mode: 0o400, uid: 1001, gid: 1002, content: 't0k' },
      { name: 'etc/app/app.conf', type: 'file', mode: 0o444, uid: 0, gid: 0, content: 'port=8080\n' },
      { name: 'srv/bin/hook.sh', type: 'file', mode: 0o555, uid: 0, gid: 0, content: '#!/bin/sh\n' },
    ]);
  });

  it('has no /run/secrets folder when the service has no secrets', async () => {
    const entries = await entriesOf(await instanceArchive({ secrets: new Map(), configs: [{ target: '/a.conf', content: Buffer.from('x'), mode: 0o444 }] }, { uid: 5, gid: 5 }));
    assert.deepEqual(entries.map((e) => e.name), ['a.conf']);
  });

  it('config files are read-only for everyone and keep only the source\'s x bits', () => {
    assert.equal(configMode(0o100644), 0o444);
    assert.equal(configMode(0o100600), 0o444);
    assert.equal(configMode(0o100755), 0o555);
    assert.equal(configMode(0o100700), 0o544);
  });
});

describe('the owner of the secrets', () => {
  it('is the image\'s USER when it is not root, else BERTH_USER (the image\'s user:), else root', () => {
    assert.equal(serviceUser({ user: '', env: { BERTH_USER: 'app' } }), 'app');
    assert.equal(serviceUser({ user: 'root', env: { BERTH_USER: 'app' } }), 'app');
    assert.equal(serviceUser({ user: '0:0', env: { BERTH_USER: 'svc:extra' } }), 'svc:extra');
    assert.equal(serviceUser({ user: '1001', env: { BERTH_USER: 'app' } }), '1001');
    assert.equal(serviceUser({ user: '', env: {} }), '');
  });

  it('resolves names and numbers like the entrypoint: the primary group from /etc/passwd unless a group is given', () => {
    assert.deepEqual(resolveOwner('', PASSWD, GROUP), { uid: 0, gid: 0 });
    assert.deepEqual(resolveOwner('app', PASSWD, GROUP), { uid: 1000, gid: 1000 });
    assert.deepEqual(resolveOwner('svc', PASSWD, GROUP), { uid: 1001, gid: 1002 });
    assert.deepEqual(resolveOwner('svc:extra', PASSWD, GROUP), { uid: 1001, gid: 1003 });
    assert.deepEqual(resolveOwner('1001', PASSWD, GROUP), { uid: 1001, gid: 1002 });
    assert.deepEqual(resolveOwner('svc:7', PASSWD, GROUP), { uid: 1001, gid: 7 });
    // A uid without an /etc/passwd entry: its group is the same number.
    assert.deepEqual(resolveOwner('4242', PASSWD, GROUP), { uid: 4242, gid: 4242 });
    assert.deepEqual(resolveOwner('4242:9', '', ''), { uid: 4242, gid: 9 });
  });

  it('refuses a user or group the image does not have, naming it', () => {
    assert.throws(() => resolveOwner('ghost', PASSWD, GROUP), /user "ghost" \(user: ghost\): it is not in the image's \/etc\/passwd/);
    assert.throws(() => resolveOwner('svc:nogroup', PASSWD, GROUP), /group "nogroup" \(user: svc:nogroup\): it is not in the image's \/etc\/group/);
  });
});
