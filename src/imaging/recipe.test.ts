import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageSpec } from '../config/model.js';
import { isBerthError } from '../errors.js';
import { ENTRYPOINT, HEALTH, INIT, RUN_STATIC, TRACE_ENV } from './assets.js';
import type { SourceFile } from './inputs.js';
import type { ImageConfig } from '../engine/images.js';
import { containerRecipeFor, imageTag, recipeFor, type ContextEntry, type RecipeInput } from './recipe.js';

const KEY = 'abcdef0123456789'.repeat(4);
const DIR = '/projects/shop/images';

function spec(name: string, extra: Partial<ImageSpec> = {}): ImageSpec {
  return { name, dir: `${DIR}/${name}`, settingsFile: 'berth.yaml', hasRuntime: false, hasStatic: false, env: {}, labels: {}, ports: [], ...extra };
}

function file(rel: string, name: string, mode = 0o644): SourceFile {
  return { rel, abs: `${DIR}/${name}/${rel}`, mode, sha256: '0'.repeat(64) };
}

function input(imageSpec: ImageSpec, files: SourceFile[], extra: Partial<RecipeInput> = {}): RecipeInput {
  return {
    spec: imageSpec,
    files,
    key: KEY,
    parentRef: 'sha256:parent',
    baseName: 'berth/base:0123456789ab',
    depth: 1,
    mirror: 'http://deb.debian.org/debian',
    proxy: {},
    project: 'shop',
    created: '2024-01-02T03:04:05.000Z',
    ...extra,
  };
}

const paths = (entries: ContextEntry[]) => entries.map((e) => e.path);

describe('recipeFor', () => {
  const root = recipeFor(
    input(spec('base', { root: { kind: 'debian', suite: 'bookworm', variant: 'minbase', packages: [], mirror: 'http://deb.debian.org/debian' }, hasRuntime: true }), [file('static.sh', 'base', 0o755), file('runtime.sh', 'base', 0o755)], {
      parentRef: 'sha256:rootfs',
      baseName: 'berth-root/bookworm:0123456789ab',
      depth: 0,
    }),
  );
  const child = recipeFor(input(spec('jdk17', { from: 'base' }), [file('static.sh', 'jdk17', 0o755)]));

  it('tags the image with its name and the key prefix', () => {
    assert.equal(imageTag('jdk17', KEY), 'berth/jdk17:abcdef012345');
    assert.equal(child.tag, 'berth/jdk17:abcdef012345');
  });

  it('starts the Dockerfile from the parent and runs static.sh by image name', () => {
    assert.equal(child.dockerfile.split('\n')[0], 'FROM sha256:parent');
    assert.equal(root.dockerfile.split('\n')[0], 'FROM sha256:rootfs');
    assert.ok(child.dockerfile.includes('COPY rootfs/ /\n'));
    assert.ok(child.dockerfile.includes('RUN ["/opt/berth/bin/run-static", "jdk17"]\n'));
    assert.ok(child.dockerfile.endsWith('\n'));
  });

  it('gives only a root image the entrypoint and the helper scripts', () => {
    assert.ok(root.dockerfile.includes('ENTRYPOINT ["/opt/berth/bin/init"]\n'));
    assert.ok(!child.dockerfile.includes('ENTRYPOINT'));

    const bin = root.entries.filter((e) => e.path.startsWith('rootfs/opt/berth/bin/'));
    assert.deepEqual(bin, [
      { path: 'rootfs/opt/berth/bin/init', mode: 0o755, content: INIT },
      { path: 'rootfs/opt/berth/bin/entrypoint', mode: 0o755, content: ENTRYPOINT },
      { path: 'rootfs/opt/berth/bin/run-static', mode: 0o755, content: RUN_STATIC },
      { path: 'rootfs/opt/berth/bin/trace.env', mode: 0o644, content: TRACE_ENV },
      { path: 'rootfs/opt/berth/bin/health', mode: 0o755, content: HEALTH },
    ]);
    assert.ok(!child.entries.some((e) => e.path.startsWith('rootfs/opt/berth/bin/')));
  });

  it('copies the image folder to /opt/berth/images/<name>/', () => {
    assert.deepEqual(child.entries, [{ path: 'rootfs/opt/berth/images/jdk17/static.sh', mode: 0o755, source: `${DIR}/jdk17/static.sh` }]);
  });

  it('links runtime.sh into runtime.d, ordered by depth', () => {
    assert.deepEqual(
      root.entries.find((e) => e.path.includes('runtime.d')),
      { path: 'rootfs/opt/berth/runtime.d/00-base.sh', mode: 0o777, symlink: '../images/base/runtime.sh' },
    );
    const deep = recipeFor(input(spec('hello-node', { from: 'nodejs', hasRuntime: true }), [file('runtime.sh', 'hello-node', 0o755)], { depth: 12 }));
    assert.deepEqual(
      deep.entries.find((e) => e.path.includes('runtime.d')),
      { path: 'rootfs/opt/berth/runtime.d/12-hello-node.sh', mode: 0o777, symlink: '../images/hello-node/runtime.sh' },
    );
    assert.ok(!child.entries.some((e) => e.path.includes('runtime.d')), 'no runtime.sh, no link');
  });

  it('puts static/ files at their path in the image and app files under the app folder', () => {
    const web = recipeFor(
      input(spec('web', { from: 'base', hasStatic: true, app: { path: '/projects/shop/services/web', dest: '/srv/web' } }), [
        { ...file('@app/lib/util.js', 'web'), abs: '/projects/shop/services/web/lib/util.js' },
        file('static.sh', 'web', 0o755),
        file('static/etc/nginx/nginx.conf', 'web'),
        file('static/usr/local/bin/tool', 'web', 0o755),
        { ...file('static/etc/link', 'web'), mode: 0o777, symlink: 'nginx/nginx.conf' },
      ]),
    );
    assert.deepEqual(web.entries, [
      { path: 'rootfs/srv/web/lib/util.js', mode: 0o644, source: '/projects/shop/services/web/lib/util.js' },
      { path: 'rootfs/opt/berth/images/web/static.sh', mode: 0o755, source: `${DIR}/web/static.sh` },
      { path: 'rootfs/etc/nginx/nginx.conf', mode: 0o644, source: `${DIR}/web/static/etc/nginx/nginx.conf` },
      { path: 'rootfs/usr/local/bin/tool', mode: 0o755, source: `${DIR}/web/static/usr/local/bin/tool` },
      { path: 'rootfs/etc/link', mode: 0o777, symlink: 'nginx/nginx.conf' },
    ]);
  });

  it('writes env, workdir, user, ports and command', () => {
    const app = recipeFor(
      input(spec('app', { from: 'base', env: { JAVA_HOME: '/opt/jdk', EMPTY: '' }, workdir: '/srv/app', user: 'app', ports: ['8080', '53/udp'], command: ['java', '-jar', 'app.jar'] }), []),
    );
    assert.equal(
      app.dockerfile,
      [
        'FROM sha256:parent',
        'ENV JAVA_HOME="/opt/jdk" EMPTY=""',
        'COPY rootfs/ /',
        'ARG BERTH_MIRROR',
        'RUN ["/opt/berth/bin/run-static", "app"]',
        'WORKDIR /srv/app',
        'ENV BERTH_USER="app"',
        'EXPOSE 8080 53/udp',
        'CMD ["java","-jar","app.jar"]',
        '',
      ].join('\n'),
    );
  });

  it('escapes $, quotes and backslashes in env values', () => {
    const app = recipeFor(input(spec('app', { from: 'base', env: { PRICE: 'costs $5 or ${X}', QUOTE: 'say "hi"', PATHS: 'C:\\dir' } }), []));
    const env = app.dockerfile.split('\n').find((l) => l.startsWith('ENV '));
    assert.equal(env, 'ENV PRICE="costs \\$5 or \\${X}" QUOTE="say \\"hi\\"" PATHS="C:\\\\dir"');
  });

  it('keeps each env value on its one ENV line: a newline is written as an escape, never as a new instruction', () => {
    const app = recipeFor(input(spec('app', { from: 'base', env: { NOTE: 'a\nRUN rm -rf /' } }), []));
    const lines = app.dockerfile.split('\n');
    assert.ok(lines.includes('ENV NOTE="a\\nRUN rm -rf /"'), app.dockerfile);
    assert.ok(!lines.some((l) => l.startsWith('RUN rm')), app.dockerfile);
  });

  it('writes the user quoted and the command and static.sh\'s image name in JSON form', () => {
    const app = recipeFor(input(spec('app', { from: 'base', user: '1000:1000', command: ['sh', '-c', 'echo "$HOME"\nid'] }), []));
    assert.ok(app.dockerfile.includes('ENV BERTH_USER="1000:1000"\n'));
    assert.ok(app.dockerfile.includes('CMD ["sh","-c","echo \\"$HOME\\"\\nid"]\n'), app.dockerfile);
    assert.ok(app.dockerfile.includes('RUN ["/opt/berth/bin/run-static", "app"]\n'));
  });

  it('refuses a workdir that would end its line or expand (WORKDIR has no quoted form)', () => {
    for (const workdir of ['/srv/app\nRUN id', '/srv/$HOME', '/srv\\app']) {
      assert.throws(
        () => recipeFor(input(spec('app', { from: 'base', workdir }), [])),
        (e: unknown) => isBerthError(e) && e.kind === 'invalid' && e.message === `image app: its workdir ${JSON.stringify(workdir)} cannot be written into a Dockerfile`,
      );
    }
    assert.ok(recipeFor(input(spec('app', { from: 'base', workdir: '/srv/my app' }), [])).dockerfile.includes('WORKDIR /srv/my app\n'));
  });

  it('passes the mirror and proxies only as build args, never in the Dockerfile', () => {
    const proxy = { http: 'http://user:secret@proxy:3128', https: 'http://user:secret@proxy:3129', noProxy: 'localhost,.internal' };
    const recipe = recipeFor(input(spec('jdk17', { from: 'base' }), [], { proxy, mirror: 'http://mirror.example/debian' }));
    assert.deepEqual(recipe.buildArgs, {
      BERTH_MIRROR: 'http://mirror.example/debian',
      HTTP_PROXY: proxy.http,
      http_proxy: proxy.http,
      HTTPS_PROXY: proxy.https,
      https_proxy: proxy.https,
      NO_PROXY: proxy.noProxy,
      no_proxy: proxy.noProxy,
    });
    assert.ok(!/proxy/i.test(recipe.dockerfile), recipe.dockerfile);
    assert.ok(!recipe.dockerfile.includes('secret'));
    assert.ok(!recipe.dockerfile.includes('mirror.example'));
    assert.deepEqual(child.buildArgs, { BERTH_MIRROR: 'http://deb.debian.org/debian' });
  });

  it('labels the image with its name, key, parent, creation time and base', () => {
    const recipe = recipeFor(input(spec('jdk17', { from: 'base', labels: { team: 'platform' } }), [], { revision: 'deadbeef' }));
    assert.deepEqual(recipe.labels, {
      team: 'platform',
      'org.opencontainers.image.created': '2024-01-02T03:04:05.000Z',
      'org.opencontainers.image.base.name': 'berth/base:0123456789ab',
      'org.opencontainers.image.title': 'jdk17',
      'org.opencontainers.image.revision': 'deadbeef',
      'berth.project': 'shop',
      'berth.image': 'jdk17',
      'berth.parent': 'base',
      'berth.key': KEY,
    });
    assert.equal(root.labels['berth.parent'], '');
    assert.equal(root.labels['org.opencontainers.image.base.name'], 'berth-root/bookworm:0123456789ab');
    assert.equal(child.labels['org.opencontainers.image.revision'], undefined);
  });

  it('does not let user labels override Berth labels', () => {
    const recipe = recipeFor(input(spec('jdk17', { from: 'base', labels: { 'berth.image': 'fake', 'berth.key': 'fake' } }), []));
    assert.equal(recipe.labels['berth.image'], 'jdk17');
    assert.equal(recipe.labels['berth.key'], KEY);
  });
});

describe('containerRecipeFor', () => {
  const empty: ImageConfig = { env: [], labels: {}, exposedPorts: [], entrypoint: null, cmd: null, workingDir: '', user: '' };
  const rootInput = input(spec('base', { root: { kind: 'tarball', path: '/r.tar' }, env: { A: '1', PATH: '/bin' }, ports: ['53/udp'] }), [file('static.sh', 'base', 0o755), file('static/etc/a/b.conf', 'base')], { depth: 0, proxy: { http: "http://u:p'w@proxy:3128" } });
  const parent: ImageConfig = {
    env: ['PATH=/bin', 'A=1', 'KEEP=yes'],
    labels: { team: 'core', 'berth.image': 'base' },
    exposedPorts: ['53/udp'],
    entrypoint: ['/opt/berth/bin/init'],
    cmd: ['old'],
    workingDir: '/srv',
    user: '',
  };

  it('leaves the configuration the Dockerfile\'s instructions would: ENV in place, the default PATH, EXPOSE added, ENTRYPOINT resetting CMD', () => {
    const root = containerRecipeFor(rootInput, empty);
    assert.deepEqual(root.config.env, ['PATH=/bin', 'A=1']);
    assert.deepEqual(root.config.exposedPorts, ['53/udp']);
    assert.deepEqual(root.config.entrypoint, ['/opt/berth/bin/init']);
    assert.equal(root.config.cmd, null);
    const bare = containerRecipeFor(input(spec('base', { root: { kind: 'tarball', path: '/r.tar' } }), [], { depth: 0 }), empty);
    assert.deepEqual(bare.config.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);

    const child = containerRecipeFor(input(spec('jdk', { from: 'base', env: { A: '2', B: 'x' }, user: 'app', ports: ['8080', '53/udp'], labels: { team: 'jdk' } }), []), parent);
    assert.deepEqual(child.config.env, ['PATH=/bin', 'A=2', 'KEEP=yes', 'B=x', 'BERTH_USER=app']);
    assert.deepEqual(child.env, ['A=2', 'B=x'], 'static.sh runs without BERTH_USER, as it ran before the ENV after RUN');
    assert.deepEqual(child.config.exposedPorts, ['53/udp', '8080/tcp']);
    assert.deepEqual(child.config.cmd, ['old'], 'a child keeps its parent\'s command');
    assert.equal(child.config.workingDir, '/srv');
    assert.equal(child.config.labels.team, 'jdk');
    assert.equal(child.config.labels['berth.image'], 'jdk');
    assert.deepEqual(child.labels, child.config.labels, 'the container\'s labels add nothing to the image\'s at commit');
    const shop = containerRecipeFor(input(spec('shop', { from: 'jdk', command: ['run'], workdir: '/app' }), []), parent);
    assert.deepEqual(shop.config.cmd, ['run']);
    assert.equal(shop.config.workingDir, '/app');
    assert.deepEqual(shop.cmd.slice(-2), ['shop', '/app'], 'the run makes the workdir after static.sh');
  });

  it('packs the files at / with their folders first, and the build arguments in a file the run removes', () => {
    const root = containerRecipeFor(rootInput, empty);
    const folders = root.entries.filter((e) => e.folder).map((e) => e.path);
    assert.ok(['etc', 'etc/a', 'opt', 'opt/berth', 'opt/berth/bin'].every((f) => folders.includes(f)));
    const at = (path: string) => root.entries.findIndex((e) => e.path === path);
    assert.ok(at('etc/a') < at('etc/a/b.conf') && at('etc/a/b.conf') >= 0);
    const args = root.entries.find((e) => e.path === 'opt/berth/.build-args')!;
    assert.equal(args.mode, 0o600);
    assert.match(args.content!, /^BERTH_MIRROR='http:\/\/deb\.debian\.org\/debian'$/m);
    assert.match(args.content!, /^HTTP_PROXY='http:\/\/u:p'\\''w@proxy:3128'$/m, 'a quote in a value stays one');
    assert.ok(!root.env.some((e) => e.includes('proxy')), 'no build argument in the container\'s environment');
    assert.ok(root.cmd[2]!.includes('rm -f /opt/berth/.build-args') && root.cmd[2]!.includes('/opt/berth/bin/run-static "$1"'));
  });

  it('refuses a parent without an entrypoint, whose command the commit would lose', () => {
    assert.throws(() => containerRecipeFor(input(spec('x', { from: 'y' }), []), empty), (e: unknown) => isBerthError(e) && /no entrypoint/.test(e.message));
  });
});
