import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMade, parseOwner, planSweep, processesNaming, testProjectOf, type FoundDir, type Owner } from './sweep-plan.js';

const live: Owner = { pid: 100, start: '5000' };
const alive = (owner: Owner) => owner.pid === live.pid && owner.start === live.start;
const dir = (project: string, owner: FoundDir['owner'], extra: Partial<FoundDir> = {}): FoundDir => ({ dir: `/tmp/berth-${project}-AbC123`, owner, made: [], ...extra });

describe('planSweep', () => {
  it('sweeps a folder whose owner is gone, with what it recorded, and keeps one whose owner runs', () => {
    const made = [{ kind: 'bridge' as const, name: 'br3e96d8' }];
    const plan = planSweep([dir('t-0000000a', live), dir('t-0000000b', { pid: 200, start: '7' }, { made })], alive, { legacy: false });
    assert.deepEqual(plan.sweep, [{ dir: '/tmp/berth-t-0000000b-AbC123', project: 't-0000000b', made, why: 'its owner (pid 200) is gone' }]);
    assert.deepEqual(plan.keep, [{ dir: '/tmp/berth-t-0000000a-AbC123', why: 'its owner (pid 100) runs' }]);
  });

  it('takes a reused pid with another start time for a dead owner', () => {
    const plan = planSweep([dir('t-0000000c', { pid: 100, start: '9999' })], alive, { legacy: false });
    assert.deepEqual(plan.sweep.map((t) => t.project), ['t-0000000c']);
  });

  it('keeps a folder without an owner file unless --legacy, and then only when no process works in it', () => {
    const found = [dir('t-0000000d', 'none'), dir('t-0000000e', 'none', { inUse: true }), dir('t-0000000f', 'unreadable')];
    assert.deepEqual(planSweep(found, alive, { legacy: false }).sweep, []);
    const legacy = planSweep(found, alive, { legacy: true });
    assert.deepEqual(legacy.sweep.map((t) => t.project), ['t-0000000d']);
    assert.deepEqual(legacy.keep.map((k) => k.why), ['no owner file, but a live process works in it', 'its owner file cannot be read (being written?)']);
  });

  it('ignores folders not made by a test fixture', () => {
    const found: FoundDir[] = [{ dir: '/tmp/berth-demo-AbC123', owner: 'none', made: [] }, { dir: '/tmp/berth-test-tiny-root.tar', owner: 'none', made: [] }, { dir: '/tmp/berth-t-xyz-AbC123', owner: { pid: 1, start: '1' }, made: [] }];
    assert.deepEqual(planSweep(found, () => false, { legacy: true }), { sweep: [], keep: [] });
  });
});

describe('records and owners', () => {
  it('reads the project from a fixture folder name only', () => {
    assert.equal(testProjectOf('/tmp/berth-t-2bedca1c-MMot5S'), 't-2bedca1c');
    assert.equal(testProjectOf('/tmp/berth-t-2bedca1c'), undefined);
  });

  it('acts only on known kinds and plausible names, each once', () => {
    assert.deepEqual(parseMade('bridge br3e96d8\nnetns berth-lan-0123abcd\nlink bl0123abcdo\nbridge br3e96d8\nbridge eth0; rm -rf /\nvolume x\nnetns other\n'), [
      { kind: 'bridge', name: 'br3e96d8' },
      { kind: 'netns', name: 'berth-lan-0123abcd' },
      { kind: 'link', name: 'bl0123abcdo' },
    ]);
  });

  it("reads a lab's kinds: its namespaces, exec-roots, cgroups, certs.d entries and forwarding rules", () => {
    const record = [
      'netns berth-lab-0123abcd-1',
      'execroot berth-lab-0123abcd-12',
      'cgroup berth-lab-0123abcd-3',
      'certs 10.201.7.1:5443',
      'certs registry.lab:443',
      'forward lb0123abcd',
      'link lb0123abcdh1',
    ].join('\n');
    assert.deepEqual(parseMade(record), [
      { kind: 'netns', name: 'berth-lab-0123abcd-1' },
      { kind: 'execroot', name: 'berth-lab-0123abcd-12' },
      { kind: 'cgroup', name: 'berth-lab-0123abcd-3' },
      { kind: 'certs', name: '10.201.7.1:5443' },
      { kind: 'certs', name: 'registry.lab:443' },
      { kind: 'forward', name: 'lb0123abcd' },
      { kind: 'link', name: 'lb0123abcdh1' },
    ]);
  });

  it('never takes a path for a name: a sweep turns these into /run/NAME, /sys/fs/cgroup/*/NAME and certs.d/NAME', () => {
    const odd = [
      'execroot ../etc',
      'execroot docker',
      'execroot berth-lab-0123abcd-0',
      'execroot berth-lab-0123abcd-1/..',
      'cgroup docker',
      'cgroup berth-lab-0123abcd-100',
      'certs ../../passwd:1',
      'certs 10.0.0.1',
      'certs a..b:5000',
      'certs /etc:1',
      'forward eth0 -j DROP',
      'netns berth-lab-0123abcd',
    ].join('\n');
    assert.deepEqual(parseMade(odd), []);
  });

  it('parses an owner file, and a half-written one is unreadable', () => {
    assert.deepEqual(parseOwner('{"pid":42,"start":"123"}\n'), { pid: 42, start: '123' });
    assert.equal(parseOwner('{"pid":42,'), 'unreadable');
    assert.equal(parseOwner('{"pid":-1,"start":"1"}'), 'unreadable');
  });
});

describe('processesNaming', () => {
  it('names the processes whose command line points inside the folder, never itself nor a longer sibling', () => {
    const d = '/tmp/berth-t-0000000a-AbC123';
    const processes = [
      { pid: 10, argv: ['/usr/sbin/haproxy', '-f', `${d}/.berth/lb/dev-web/haproxy.cfg`] },
      { pid: 11, argv: ['docker-registry', 'serve', `${d}/.berth/registry/config.yml`] },
      { pid: 12, argv: ['/usr/sbin/haproxy', '-f', `${d}x/.berth/lb/dev-web/haproxy.cfg`] },
      { pid: 13, argv: ['node', 'sweep.js', d] },
    ];
    assert.deepEqual(processesNaming(d, processes, 13), [10, 11]);
  });
});
