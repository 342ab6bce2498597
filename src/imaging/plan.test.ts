import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BuildRecord } from '../store/builds.js';
import { buildKey, canonicalJson, diffFiles, inputsOf, planBuild, RECIPE_VERSION, type PlanEntry, type PlanImage, type PlanState } from './plan.js';

const sha = (c: string) => c.repeat(64);
const ROOT_ID = 'sha256:root';

/** base → jdk → tomcat → app and base → node → napp, in topological order. */
function tree(): PlanImage[] {
  const image = (name: string, parent: string | undefined, extra: Partial<PlanImage> = {}): PlanImage => ({
    name,
    parent,
    settings: { env: { IMAGE: name }, labels: {}, ports: [], ...(parent ? { from: parent } : {}) },
    files: { 'static.sh': `755:${sha('a')}`, [`static/etc/${name}.conf`]: `644:${sha('b')}` },
    ...extra,
  });
  return [
    image('base', undefined, { rootId: ROOT_ID, rootLabel: 'bookworm minbase' }),
    image('jdk', 'base'),
    image('node', 'base'),
    image('tomcat', 'jdk'),
    image('napp', 'node'),
    image('app', 'tomcat'),
  ];
}

/** The state after building every image of `images` (what the engine and the store then hold). */
function builtState(images: readonly PlanImage[]): PlanState {
  const built = new Map<string, string>();
  const last = new Map<string, BuildRecord>();
  const ids = new Map<string, string>();
  for (const image of images) {
    const parentId = image.parent === undefined ? image.rootId! : ids.get(image.parent)!;
    const inputs = inputsOf(image, parentId);
    const key = buildKey(inputs);
    const imageId = `sha256:${image.name}-${key.slice(0, 8)}`;
    ids.set(image.name, imageId);
    built.set(key, imageId);
    last.set(image.name, { image: image.name, key, imageId, parentId, inputs, builtAt: 1, durationMs: 1 });
  }
  return { built, last };
}

const byName = (entries: PlanEntry[]) => new Map(entries.map((e) => [e.name, e]));

describe('buildKey and canonicalJson', () => {
  const inputs = {
    recipe: '1',
    image: 'jdk',
    settings: { env: { A: '1', B: '2' }, ports: ['80', '443'] },
    files: { 'static.sh': `755:${sha('a')}`, 'runtime.sh': `755:${sha('b')}` },
    parentId: 'sha256:p',
  };

  it('gives the same key for the same inputs in any key order', () => {
    const reordered = {
      parentId: 'sha256:p',
      files: { 'runtime.sh': `755:${sha('b')}`, 'static.sh': `755:${sha('a')}` },
      settings: { ports: ['80', '443'], env: { B: '2', A: '1' } },
      image: 'jdk',
      recipe: '1',
    };
    assert.equal(canonicalJson(reordered), canonicalJson(inputs));
    assert.equal(buildKey(reordered), buildKey(inputs));
    assert.match(buildKey(inputs), /^[0-9a-f]{64}$/);
  });

  it('sorts keys at every depth but keeps list order', () => {
    assert.equal(canonicalJson({ b: { d: 1, c: [3, 1] }, a: null }), '{"a":null,"b":{"c":[3,1],"d":1}}');
    assert.notEqual(buildKey({ ...inputs, settings: { ...inputs.settings, ports: ['443', '80'] } }), buildKey(inputs));
    assert.equal(canonicalJson(undefined), 'null');
  });

  it("changes when a file's content or mode changes", () => {
    const content = { ...inputs, files: { ...inputs.files, 'static.sh': `755:${sha('c')}` } };
    const mode = { ...inputs, files: { ...inputs.files, 'static.sh': `644:${sha('a')}` } };
    const keys = new Set([buildKey(inputs), buildKey(content), buildKey(mode)]);
    assert.equal(keys.size, 3);
  });

  it('changes with the parent image', () => {
    assert.notEqual(buildKey({ ...inputs, parentId: 'sha256:other' }), buildKey(inputs));
  });

  it('differs between two images with the same content but different names', () => {
    assert.notEqual(buildKey({ ...inputs, image: 'worker' }), buildKey(inputs));
  });
});

describe('planBuild', () => {
  it('skips everything that is built, with the image IDs', () => {
    const images = tree();
    const state = builtState(images);
    const plan = planBuild(images, state);
    assert.deepEqual(
      plan.map((e) => [e.name, e.action, e.reason]),
      images.map((i) => [i.name, 'skip', 'up to date']),
    );
    for (const entry of plan) {
      assert.equal(entry.imageId, state.last.get(entry.name)!.imageId);
      assert.equal(entry.key, state.last.get(entry.name)!.key);
    }
    assert.equal(byName(plan).get('tomcat')!.parent, 'jdk');
    assert.equal(byName(plan).get('base')!.parent, null);
  });

  it('rebuilds a changed image and its descendants only, naming the changed file', () => {
    const state = builtState(tree());
    const images = tree();
    const jdk = images.find((i) => i.name === 'jdk')!;
    jdk.files = { ...jdk.files, 'static.sh': `755:${sha('f')}` };

    const plan = byName(planBuild(images, state));
    assert.equal(plan.get('jdk')!.action, 'build');
    assert.equal(plan.get('jdk')!.reason, 'static.sh changed');
    assert.match(plan.get('jdk')!.key!, /^[0-9a-f]{64}$/);
    assert.equal(plan.get('jdk')!.imageId, undefined);
    for (const name of ['tomcat', 'app']) {
      const entry = plan.get(name)!;
      assert.equal(entry.action, 'build', name);
      assert.equal(entry.key, null, name);
    }
    assert.equal(plan.get('tomcat')!.reason, 'parent "jdk" will be rebuilt');
    assert.equal(plan.get('app')!.reason, 'parent "tomcat" will be rebuilt');
    for (const name of ['base', 'node', 'napp']) {
      assert.equal(plan.get(name)!.action, 'skip', name);
      assert.equal(plan.get(name)!.reason, 'up to date', name);
    }
  });

  it('builds everything when the root filesystem is not bootstrapped', () => {
    const state = builtState(tree());
    const images = tree();
    images[0]!.rootId = undefined;
    const plan = planBuild(images, state);
    assert.ok(plan.every((e) => e.action === 'build' && e.key === null));
    assert.equal(plan[0]!.reason, 'root filesystem (bookworm minbase) not bootstrapped yet');
    assert.equal(byName(plan).get('napp')!.reason, 'parent "node" will be rebuilt');
  });

  it('names the settings that changed', () => {
    const state = builtState(tree());
    const images = tree();
    const node = images.find((i) => i.name === 'node')!;
    node.settings = { ...(node.settings as object), env: { IMAGE: 'node', EXTRA: 'yes' } };
    const plan = byName(planBuild(images, state));
    assert.equal(plan.get('node')!.action, 'build');
    assert.equal(plan.get('node')!.reason, 'settings changed: env');
    assert.equal(plan.get('napp')!.reason, 'parent "node" will be rebuilt');
    assert.equal(plan.get('jdk')!.action, 'skip');
  });

  it('says when the image was built before but is gone from the engine', () => {
    const images = tree();
    const state = builtState(images);
    const appKey = state.last.get('app')!.key;
    const built = new Map(state.built);
    built.delete(appKey);
    const plan = byName(planBuild(images, { built, last: state.last }));
    assert.deepEqual(
      { action: plan.get('app')!.action, key: plan.get('app')!.key, reason: plan.get('app')!.reason },
      { action: 'build', key: appKey, reason: 'built before, but the image is gone from the engine' },
    );
    assert.equal(plan.get('tomcat')!.action, 'skip');
  });

  it('says "never built" for an image without a record', () => {
    const images = tree();
    const state = builtState(images.filter((i) => i.name !== 'napp'));
    const plan = byName(planBuild(images, state));
    assert.equal(plan.get('napp')!.reason, 'never built');
  });

  it('names a recipe change', () => {
    const images = tree();
    const state = builtState(images);
    const old = state.last.get('base')!;
    const last = new Map(state.last).set('base', { ...old, key: 'old', inputs: { ...old.inputs, recipe: '0' } });
    const built = new Map([...state.built].filter(([key]) => key !== old.key));
    const plan = byName(planBuild(images, { built, last }));
    assert.equal(plan.get('base')!.reason, `Berth's build recipe changed (0 → ${RECIPE_VERSION})`);
  });
});

describe('diffFiles', () => {
  it('lists added, removed, changed and mode-changed files, sorted', () => {
    const before = { 'static.sh': `755:${sha('a')}`, 'runtime.sh': `755:${sha('b')}`, 'static/etc/x': `644:${sha('c')}`, 'gone.txt': `644:${sha('d')}` };
    const after = { 'static.sh': `755:${sha('a')}`, 'runtime.sh': `755:${sha('e')}`, 'static/etc/x': `755:${sha('c')}`, 'new.txt': `644:${sha('d')}` };
    assert.deepEqual(diffFiles(before, after), ['gone.txt removed', 'new.txt added', 'runtime.sh changed', 'static/etc/x mode changed']);
  });

  it('is empty for equal file sets', () => {
    const files = { 'static.sh': `755:${sha('a')}` };
    assert.deepEqual(diffFiles(files, { ...files }), []);
  });
});
