import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { BerthError, BerthErrors } from '../errors.js';
import { DEFAULT_MIRROR } from './model.js';
import { loadProject } from './project.js';

const EXECUTABLE = '#!/bin/sh\n';
const dirs: string[] = [];

/**
 * Writes a project into a fresh temp folder. Every name in `images` gets a
 * folder with an executable static.sh; `files` adds or overrides files
 * (a number after the content sets the mode).
 */
function makeProject(berthYaml: string | undefined, images: string[], files: Record<string, string | [string, number]> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-project-test-'));
  dirs.push(dir);
  const write = (relative: string, content: string, mode = 0o644) => {
    const file = join(dir, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    chmodSync(file, mode);
  };
  if (berthYaml !== undefined) write('berth.yaml', berthYaml);
  for (const image of images) write(`images/${image}/static.sh`, EXECUTABLE, 0o755);
  for (const [relative, value] of Object.entries(files)) {
    if (typeof value === 'string') write(relative, value);
    else write(relative, value[0], value[1]);
  }
  return dir;
}

/** Loads the project with an empty environment, from its own folder (so messages say "berth.yaml:<line>"). */
function load(dir: string, env: NodeJS.ProcessEnv = {}) {
  return loadProject(dir, env, dir);
}

/** The error loading throws; fails the test when it loads. */
function loadError(dir: string): BerthError {
  try {
    load(dir);
  } catch (error) {
    assert.ok(error instanceof BerthError, `expected a BerthError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the project to be rejected');
}

/** Each problem's message (one for a single error). */
function messages(error: BerthError): string[] {
  return error instanceof BerthErrors ? error.problems.map((p) => p.message) : [error.message];
}

function problems(error: BerthError): BerthError[] {
  return error instanceof BerthErrors ? error.problems : [error];
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const VALID = `project: shop
images:
  base:
    root:
      suite: bookworm
      packages: [curl, ca-certificates, curl]
  jdk17:
    from: base
    env:
      JAVA_HOME: /opt/jdk
`;

describe('loadProject on a valid project', () => {
  it('returns the images, build defaults and state folder', () => {
    const dir = makeProject(VALID, ['base', 'jdk17'], {
      'images/jdk17/runtime.sh': ['#!/bin/sh\n', 0o755],
      'images/jdk17/static/etc/java.conf': 'x=1\n',
    });
    const project = load(dir);
    assert.equal(project.name, 'shop');
    assert.equal(project.dir, dir);
    assert.equal(project.file, join(dir, 'berth.yaml'));
    assert.equal(project.stateDir, join(dir, '.berth'));
    assert.deepEqual(project.build, { concurrency: 2, mirror: DEFAULT_MIRROR, proxy: {} });
    assert.deepEqual([...project.images.keys()].sort(), ['base', 'jdk17']);

    assert.deepEqual(project.images.get('base'), {
      name: 'base',
      dir: join(dir, 'images/base'),
      settingsFile: 'berth.yaml',
      hasRuntime: false,
      hasStatic: false,
      root: { kind: 'debian', suite: 'bookworm', variant: 'minbase', packages: ['ca-certificates', 'curl'], mirror: DEFAULT_MIRROR },
      env: {},
      labels: {},
      ports: [],
    });
    assert.deepEqual(project.images.get('jdk17'), {
      name: 'jdk17',
      dir: join(dir, 'images/jdk17'),
      settingsFile: 'berth.yaml',
      hasRuntime: true,
      hasStatic: true,
      from: 'base',
      env: { JAVA_HOME: '/opt/jdk' },
      labels: {},
      ports: [],
    });
  });

  it('uses BERTH_STATE_DIR from the environment, relative to the working folder', () => {
    const dir = makeProject(VALID, ['base', 'jdk17']);
    assert.equal(load(dir, { BERTH_STATE_DIR: '/var/lib/berth-test' }).stateDir, '/var/lib/berth-test');
    assert.equal(load(dir, { BERTH_STATE_DIR: 'state' }).stateDir, join(dir, 'state'));
  });

  it('reads build settings, with the mirror passed on to Debian roots', () => {
    const yaml = `${VALID}build:\n  concurrency: 4\n  mirror: http://mirror.example/debian\n  proxy:\n    http: http://proxy:3128\n  source_date_epoch: 1700000000\n`;
    const project = load(makeProject(yaml, ['base', 'jdk17']));
    assert.deepEqual(project.build, { concurrency: 4, mirror: 'http://mirror.example/debian', proxy: { http: 'http://proxy:3128' }, sourceDateEpoch: 1700000000 });
    assert.equal((project.images.get('base')!.root as { mirror: string }).mirror, 'http://mirror.example/debian');
  });

  it('loads an image whose settings are only in its image.yaml', () => {
    const dir = makeProject(VALID, ['base', 'jdk17', 'tomcat'], {
      'images/tomcat/image.yaml': 'from: jdk17\nports: [8080]\ncommand: catalina.sh run\n',
    });
    const tomcat = load(dir).images.get('tomcat');
    assert.ok(tomcat);
    assert.equal(tomcat.settingsFile, join('images', 'tomcat', 'image.yaml'));
    assert.equal(tomcat.from, 'jdk17');
    assert.deepEqual(tomcat.ports, ['8080']);
    assert.deepEqual(tomcat.command, ['/bin/sh', '-c', 'catalina.sh run']);
  });
});

describe('loadProject errors', () => {
  it('says not-found when there is no berth.yaml', () => {
    const dir = makeProject(undefined, []);
    const error = loadError(dir);
    assert.equal(error.kind, 'not-found');
    assert.match(error.message, /no berth\.yaml/);
    assert.match(error.fix ?? '', /--project/);
  });

  it('names an unknown parent with its line and the nearest image', () => {
    const yaml = `project: shop
images:
  base:
    root: {}
  jdk17:
    from: bse
`;
    const error = loadError(makeProject(yaml, ['base', 'jdk17']));
    assert.equal(error.kind, 'invalid');
    assert.equal(error.message, 'berth.yaml:6: images.jdk17.from: unknown image "bse" (did you mean "base"?)');
    assert.match(error.fix ?? '', /name one of: base/);
  });

  it('names an unknown key and suggests the known one', () => {
    const yaml = `project: shop
images:
  base:
    root: {}
  jdk17:
    frm: base
`;
    const error = loadError(makeProject(yaml, ['base', 'jdk17']));
    assert.equal(error.kind, 'invalid');
    const unknown = problems(error).find((p) => p.message.includes('unknown key'));
    assert.ok(unknown, messages(error).join('\n'));
    assert.equal(unknown.message, 'berth.yaml:6: images.jdk17.frm: unknown key "frm" (did you mean "from"?)');
    assert.match(unknown.fix ?? '', /allowed keys here: from, root, /);
  });

  it('reports text that is not YAML, one problem per syntax error', () => {
    const error = loadError(makeProject('project: shop\nimages:\n  base: [unclosed\n  jdk: {\n', ['base']));
    assert.equal(error.kind, 'invalid');
    assert.equal(messages(error).length, 2, messages(error).join('\n'));
    for (const message of messages(error)) assert.match(message, /^berth\.yaml:\d+: not valid YAML: .*(indented|end with)/);
    assert.match(problems(error)[0]!.fix ?? '', /correct the YAML syntax/);
  });

  it('reports a duplicate key as not valid YAML', () => {
    const error = loadError(makeProject('project: shop\nproject: other\n', []));
    assert.equal(error.kind, 'invalid');
    assert.deepEqual(messages(error), ['berth.yaml:2: not valid YAML: Map keys must be unique']);
  });

  it('reports a missing static.sh', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n';
    const error = loadError(makeProject(yaml, [], { 'images/base/runtime.sh': ['#!/bin/sh\n', 0o755] }));
    assert.equal(error.kind, 'invalid');
    assert.match(error.message, /^images\/base\/static\.sh: missing/);
    assert.match(error.fix ?? '', /chmod \+x images\/base\/static\.sh/);
  });

  it('reports a static.sh that is not executable, with the chmod that fixes it', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n';
    const error = loadError(makeProject(yaml, [], { 'images/base/static.sh': ['#!/bin/sh\n', 0o644] }));
    assert.equal(error.kind, 'invalid');
    assert.equal(error.message, 'images/base/static.sh: is not executable');
    assert.equal(error.fix, 'chmod +x images/base/static.sh');
  });

  it('rejects an invalid image name', () => {
    const yaml = 'project: shop\nimages:\n  Bad_Name:\n    root: {}\n';
    const error = loadError(makeProject(yaml, ['Bad_Name']));
    assert.equal(error.kind, 'invalid');
    assert.match(error.message, /^berth\.yaml:3: images\.Bad_Name: "Bad_Name" is not a valid image name/);
  });

  it('rejects an invalid image folder name', () => {
    const error = loadError(makeProject('project: shop\n', ['Bad_Name'], { 'images/Bad_Name/image.yaml': 'root: {}\n' }));
    assert.match(error.message, /^images\/Bad_Name: "Bad_Name" is not a valid image name/);
    assert.equal(error.fix, 'rename the folder');
  });

  it('reports a cycle of from: once', () => {
    const yaml = `project: shop
images:
  base:
    root: {}
  a:
    from: b
  b:
    from: a
`;
    const error = loadError(makeProject(yaml, ['base', 'a', 'b']));
    assert.equal(error.kind, 'invalid');
    assert.deepEqual(messages(error), ['berth.yaml:6: images.a.from: cycle in "from:": a → b → a']);
  });

  it('rejects an image with both from: and root:', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n  jdk:\n    from: base\n    root: {}\n';
    const error = loadError(makeProject(yaml, ['base', 'jdk']));
    assert.equal(error.message, 'berth.yaml:7: images.jdk.root: an image has either "from:" (a parent) or "root:" (a root filesystem), not both');
  });

  it('rejects an image with neither from: nor root:', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n  jdk:\n    env: { A: "1" }\n';
    const error = loadError(makeProject(yaml, ['base', 'jdk']));
    assert.equal(error.message, 'berth.yaml:5: images.jdk: image "jdk" has neither "from:" nor "root:"');
  });

  it('rejects settings in both berth.yaml and image.yaml', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n  jdk:\n    from: base\n';
    const error = loadError(makeProject(yaml, ['base', 'jdk'], { 'images/jdk/image.yaml': 'from: base\n' }));
    assert.equal(error.message, 'berth.yaml:5: images.jdk: settings for "jdk" are both here and in images/jdk/image.yaml');
    assert.equal(error.fix, 'keep them in one place');
  });

  it('reports an image folder without any settings', () => {
    const error = loadError(makeProject('project: shop\n', ['lonely']));
    assert.match(error.message, /^images\/lonely: folder has no settings/);
  });

  it('reports a declared image without a folder', () => {
    const yaml = 'project: shop\nimages:\n  base:\n    root: {}\n  jdk:\n    from: base\n';
    const error = loadError(makeProject(yaml, ['base', 'jdks']));
    const folder = problems(error).find((p) => p.message.includes('has no folder'));
    assert.ok(folder, messages(error).join('\n'));
    assert.equal(folder.message, 'berth.yaml:5: images.jdk: image "jdk" has no folder images/jdk/ (did you mean "jdks"?)');
  });

  it('reports line numbers inside image.yaml', () => {
    const error = loadError(makeProject('project: shop\nimages:\n  base:\n    root: {}\n', ['base', 'web'], { 'images/web/image.yaml': '# web\nfrom: bsae\n' }));
    assert.equal(error.message, 'images/web/image.yaml:2: from: unknown image "bsae" (did you mean "base"?)');
  });

  it('reports every problem at once', () => {
    const yaml = `project: Shop
images:
  base:
    root: {}
  jdk:
    from: base
    ports: [http]
build:
  concurrency: 0
`;
    const error = loadError(makeProject(yaml, ['base', 'jdk'], { 'images/base/static.sh': ['#!/bin/sh\n', 0o644] }));
    assert.ok(error instanceof BerthErrors);
    assert.equal(error.kind, 'invalid');
    assert.equal(error.problems.length, 4, messages(error).join('\n'));
    assert.ok(error.problems.every((p) => p.kind === 'invalid'));
    const all = messages(error).join('\n');
    assert.match(all, /berth\.yaml:1: project: "Shop" is not a project name/);
    assert.match(all, /berth\.yaml:9: build\.concurrency: must be at least 1, got 0/);
    assert.match(all, /berth\.yaml:7: images\.jdk\.ports\[0\]: "http" is not a port/);
    assert.match(all, /images\/base\/static\.sh: is not executable/);
    assert.equal(error.message, all, 'the combined message lists every problem');
  });
});
