import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BerthError, BerthErrors } from '../errors.js';
import { openStore, closeStore } from '../store/db.js';
import { listConfigs } from '../store/configs.js';
import { bundleDigests, decodeBundle, encodeBundle, safeRelativePath, secretFiles, type Bundle } from './bundle.js';
import { diffBundles } from './diff.js';
import { applyBundle, versionDir } from './versions.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'berth-apply-test-'));
  dirs.push(d);
  return d;
};

const file = (text: string, executable = false) => ({ content: Buffer.from(text), executable });
const YAML = (replicas: number, name = 'shop') =>
  [`project: ${name}`, 'images:', '  base:', '    root: { suite: bookworm }', 'services:', '  web:', '    image: base', '    ports: [8080]', 'environments:', '  dev:', '    network: nat', `    services: { web: { replicas: ${replicas} } }`, ''].join('\n');
const bundleOf = (yaml: string): Bundle => new Map([['berth.yaml', file(yaml)], ['images/base/static.sh', file('#!/bin/sh\n', true)]]);

describe('berth apply on the server side', () => {
  it('applies a valid bundle as version 1, then a changed one as version 2 with its diff; the same bundle again changes nothing', async () => {
    const state = tmp();
    const db = await openStore(state);
    const first = await applyBundle(db, state, {}, bundleOf(YAML(1)), { actor: 'admin', dryRun: false });
    assert.deepEqual([first.version, first.applied, first.project], [1, true, 'shop']);
    assert.deepEqual(first.diff.changes.map((c) => [c.path, c.change]), [['berth.yaml', 'added'], ['images/base/static.sh', 'added']]);
    const second = await applyBundle(db, state, {}, bundleOf(YAML(3)), { actor: 'admin', dryRun: false });
    assert.equal(second.version, 2);
    assert.deepEqual(second.diff.changes.map((c) => [c.path, c.change]), [['berth.yaml', 'changed']]);
    assert.match(second.diff.changes[0]!.patch!, /-.*replicas: 1[\s\S]*\+.*replicas: 3/);
    const again = await applyBundle(db, state, {}, bundleOf(YAML(3)), { actor: 'admin', dryRun: false });
    assert.deepEqual([again.version, again.applied, again.diff.unchanged], [2, false, true]);
    assert.deepEqual((await listConfigs(db)).map((v) => [v.version, v.actor]), [[2, 'admin'], [1, 'admin']]);
    // Each version's files are kept, the x bit too: the loader checks static.sh's.
    assert.ok(existsSync(join(versionDir(state, 2), 'images', 'base', 'static.sh')));
    await closeStore(db);
  });

  it('a dry run shows the diff and applies nothing', async () => {
    const state = tmp();
    const db = await openStore(state);
    const dry = await applyBundle(db, state, {}, bundleOf(YAML(1)), { actor: 'admin', dryRun: true });
    assert.deepEqual([dry.version, dry.applied, dry.dryRun, dry.diff.changes.length], [1, false, true, 2]);
    assert.deepEqual(await listConfigs(db), []);
    assert.deepEqual(readdirSync(join(state, 'config')), [], 'the staging folder is removed');
    await closeStore(db);
  });

  it('an invalid berth.yaml is refused with its file, line and key, and nothing is applied', async () => {
    const state = tmp();
    const db = await openStore(state);
    await applyBundle(db, state, {}, bundleOf(YAML(1)), { actor: 'admin', dryRun: false });
    const bad = YAML(1).replace('image: base', 'image: nope');
    await assert.rejects(
      async () => await applyBundle(db, state, {}, bundleOf(bad), { actor: 'admin', dryRun: false }),
      (e: unknown) => e instanceof BerthError && /berth\.yaml:\d+: services\.web\.image: unknown image "nope"/.test(e instanceof BerthErrors ? e.problems.map((p) => p.message).join('\n') : e.message),
    );
    assert.equal((await listConfigs(db)).length, 1);
    assert.deepEqual(readdirSync(join(state, 'config')).sort(), ['v1']);
    await closeStore(db);
  });

  it("a configuration may not read the server's own variables or state files into an instance", async () => {
    const state = tmp();
    const db = await openStore(state);
    const withSecret = (ref: string) => YAML(1).replace('    ports: [8080]', `    ports: [8080]\n    secrets: { KEY: ${ref} }`);
    await assert.rejects(async () => await applyBundle(db, state, {}, bundleOf(withSecret('{ env: BERTH_SECRET_KEY }')), { actor: 'admin', dryRun: false }), (e: unknown) => e instanceof BerthError && e.kind === 'forbidden' && /server's variable BERTH_SECRET_KEY/.test(e.message));
    await assert.rejects(async () => await applyBundle(db, state, {}, bundleOf(withSecret(`{ file: ${state}/secret.key }`)), { actor: 'admin', dryRun: false }), (e: unknown) => e instanceof BerthError && e.kind === 'forbidden' && /server's state directory/.test(e.message));
    assert.deepEqual(await listConfigs(db), []);
    await closeStore(db);
  });

  it('a bundle naming one path as a file and as a folder is invalid input, not an internal error', async () => {
    const state = tmp();
    const db = await openStore(state);
    const bundle = bundleOf(YAML(1));
    bundle.set('images/base/static.sh/x', file('y'));
    await assert.rejects(async () => await applyBundle(db, state, {}, bundle, { actor: 'admin', dryRun: false }), (e: unknown) => e instanceof BerthError && e.kind === 'invalid' && /both as a file and as a folder/.test(e.message));
    await closeStore(db);
  });

  it('another project on the same server is a conflict naming both', async () => {
    const state = tmp();
    const db = await openStore(state);
    await applyBundle(db, state, {}, bundleOf(YAML(1)), { actor: 'admin', dryRun: false });
    await assert.rejects(async () => await applyBundle(db, state, {}, bundleOf(YAML(1, 'other')), { actor: 'admin', dryRun: false }), (e: unknown) => e instanceof BerthError && e.kind === 'conflict' && /runs project "shop".*project "other"/.test(e.message));
    await closeStore(db);
  });
});

describe('the bundle', () => {
  it('refuses paths that would leave the folder it is written to', async () => {
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a//b', './a', 'a\\b', '']) assert.equal(safeRelativePath(bad), false, bad);
    assert.equal(safeRelativePath('images/base/static.sh'), true);
    await assert.rejects(async () => decodeBundle({ files: { 'berth.yaml': '', '../evil': '' }, executable: [] }), /not a relative path inside the project/);
    await assert.rejects(async () => decodeBundle({ files: { 'x.yaml': '' }, executable: [] }), /no berth.yaml/);
  });

  it('round-trips through its wire form with the x bits, and its digest changes with a mode', () => {
    const bundle = bundleOf(YAML(1));
    assert.deepEqual(decodeBundle(encodeBundle(bundle)), bundle);
    const flipped: Bundle = new Map([...bundle].map(([p, f]) => [p, { ...f, executable: !f.executable }]));
    assert.notEqual(bundleDigests(bundle).digest, bundleDigests(flipped).digest);
    assert.deepEqual(diffBundles(bundle, flipped).changes.map((c) => c.change), ['changed', 'changed']);
  });

  it('finds the files secrets are read from, anywhere in the project', () => {
    const project = { services: new Map([['web', { secrets: { A: { file: '/p/secrets/a' }, B: { env: 'B' } } }]]), registry: { password: { file: '/p/reg' } } };
    assert.deepEqual([...secretFiles(project)].sort(), ['/p/reg', '/p/secrets/a']);
  });

  it('a binary file is diffed by name only', () => {
    const before: Bundle = new Map([['blob', file('a\0b')]]);
    const afterB: Bundle = new Map([['blob', file('a\0c')]]);
    assert.deepEqual(diffBundles(before, afterB).changes, [{ path: 'blob', change: 'changed' }]);
  });
});
