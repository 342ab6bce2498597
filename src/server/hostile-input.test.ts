/**
 * The server under hostile input from a token holder, on a real fastify app on
 * loopback and a real store (no Docker): what a configuration may read of the
 * server's machine, bundles over the path limits, token envs and types that
 * are not coerced, an internal error logged under the request id its answer
 * names, and the modes of a new state.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bootstrapAdmin } from '../access/tokens.js';
import { configRoot, versionDir } from '../apply/versions.js';
import type { BerthError } from '../errors.js';
import { readConfigFiles } from '../runtime/instance-files.js';
import { listConfigs } from '../store/configs.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { buildApp } from './app.js';
import { ServerCore } from './core.js';
import { startServer } from './main.js';

const yaml = (service: string[] = []) =>
  ['project: hostile', 'images:', '  base:', '    root: {}', 'services:', '  web:', '    image: base', ...service.map((l) => `    ${l}`), 'environments:', '  dev: {}', '  production: {}', ''].join('\n');
const b64 = (text: string) => Buffer.from(text).toString('base64');
const bundle = (berthYaml: string, more: Record<string, string> = {}) => ({
  files: { 'berth.yaml': b64(berthYaml), 'images/base/static.sh': b64('#!/bin/sh\n'), ...Object.fromEntries(Object.entries(more).map(([p, t]) => [p, b64(t)])) },
  executable: ['images/base/static.sh'],
});

describe('the server under hostile input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hostile-test-'));
  const state = join(dir, 'state');
  const allowed = join(dir, 'allowed');
  const log: string[] = [];
  let db: Store;
  let core: ServerCore;
  let app: FastifyInstance;
  let admin: string;

  const send = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: res.statusCode, body: res.json() as { error?: { kind: string; message: string; fix?: string } } & Record<string, unknown>, headers: res.headers };
  };
  const refusal = (body: { error?: { kind: string; message: string; fix?: string } }) => `${body.error?.kind}: ${body.error?.message} / fix: ${body.error?.fix}`;
  const staged = () => readdirSync(configRoot(state)).filter((name) => name.startsWith('.staging-'));

  before(async () => {
    mkdirSync(allowed);
    writeFileSync(join(allowed, 'app.conf'), 'listen 8080\n');
    db = await openStore(state);
    writeFileSync(join(state, 'secret.key'), 'the-servers-own-key\n', { mode: 0o600 });
    admin = (await bootstrapAdmin(db))!.token;
    core = new ServerCore(state, db, {}, { allowRead: [allowed] });
    app = await buildApp(core, { log: { write: (line) => void log.push(line) } });
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await closeStore(db);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('what a configuration may read on the server', () => {
    it("refuses a secret file of the server's state named with ./ (403, naming the file and the fix)", async () => {
      const res = await send('POST', '/v1/config', bundle(yaml([`secrets: { KEY: { file: ${state}/./secret.key } }`])));
      assert.equal(res.status, 403, refusal(res.body));
      assert.equal(res.body.error!.kind, 'forbidden');
      assert.match(res.body.error!.message, new RegExp(`^services\\.web\\.secrets\\.KEY reads ${state}/\\./secret\\.key, a file of the server's state directory`));
      assert.match(res.body.error!.fix!, /berth secret set/);
    });

    it('refuses the same file through /proc/self/root, saying a configuration never reads /proc', async () => {
      const res = await send('POST', '/v1/config', bundle(yaml([`secrets: { KEY: { file: /proc/self/root${state}/secret.key } }`])));
      assert.equal(res.status, 403, refusal(res.body));
      assert.match(res.body.error!.message, new RegExp(`^services\\.web\\.secrets\\.KEY reads /proc/self/root${state}/secret\\.key .*never reads /proc`));
    });

    it("refuses a config: file naming the server's key, absolute or relative to the bundle", async () => {
      for (const source of [`${state}/spec-mac.key`, '../../secret.key']) {
        const res = await send('POST', '/v1/config', bundle(yaml(['config:', `  /etc/app/key: ${source}`])));
        assert.equal(res.status, 403, `${source}: ${refusal(res.body)}`);
        assert.match(res.body.error!.message, /^services\.web\.config\.\/etc\/app\/key reads .*a file of the server's state directory/, source);
      }
      assert.deepEqual(await listConfigs(db), [], 'nothing was applied');
      assert.deepEqual(staged(), [], 'no staging folder is left');
    });

    it('refuses a file elsewhere on the machine, naming the allowed folders and --allow-read', async () => {
      const res = await send('POST', '/v1/config', bundle(yaml(['config:', '  /etc/app/hosts: /etc/hosts'])));
      assert.equal(res.status, 403, refusal(res.body));
      assert.match(res.body.error!.message, new RegExp(`reads /etc/hosts: on a server a configuration reads only the files berth apply uploaded with it, or in ${allowed} `));
      assert.match(res.body.error!.fix!, /--allow-read/);
    });

    it('refuses a symbolic link in an allowed folder that points out of it, naming where it really points', async () => {
      symlinkSync(join(state, 'secret.key'), join(allowed, 'innocent.conf'));
      const res = await send('POST', '/v1/config', bundle(yaml(['config:', `  /etc/app/a.conf: ${allowed}/innocent.conf`])));
      assert.equal(res.status, 403, refusal(res.body));
      assert.match(res.body.error!.message, new RegExp(`reads ${allowed}/innocent\\.conf \\(really ${state}/secret\\.key\\), a file of the server's state directory`));
    });

    it('applies files of the bundle and of an allowed folder; a link swapped in afterwards is refused when the file is read', async () => {
      const res = await send('POST', '/v1/config', bundle(yaml(['config:', `  /etc/app/app.conf: ${allowed}/app.conf`, '  /etc/app/own.conf: conf/own.conf']), { 'conf/own.conf': 'own\n' }));
      assert.equal(res.status, 201, refusal(res.body));
      const project = await core.project();
      const web = project.services.get('web')!;
      assert.deepEqual(readConfigFiles(web, project).map((c) => [c.target, c.content.toString()]), [['/etc/app/app.conf', 'listen 8080\n'], ['/etc/app/own.conf', 'own\n']]);
      // A symlink inside the applied bundle that points out (however it got there) is not followed.
      const own = join(versionDir(state, 1), 'conf', 'own.conf');
      unlinkSync(own);
      symlinkSync(join(state, 'secret.key'), own);
      assert.throws(() => readConfigFiles(web, project), (e: BerthError) => e.kind === 'forbidden' && e.message.includes(`services.web.config./etc/app/own.conf reads ${own} (really ${state}/secret.key)`));
    });
  });

  describe('bundles over the limits', () => {
    it('a 300-character file name is 400 invalid naming the limit, and leaves nothing in staging', async () => {
      const res = await send('POST', '/v1/config', bundle(yaml(), { [`conf/${'n'.repeat(300)}`]: 'x' }));
      assert.equal(res.status, 400, refusal(res.body));
      assert.equal(res.body.error!.kind, 'invalid');
      assert.match(res.body.error!.message, /a name of 300 bytes, more than the limit of 255 for a file or folder name/);
      assert.deepEqual(staged(), []);
    });

    it('a path 2,000 folders deep is 400 invalid naming the limit, and leaves nothing in staging', async () => {
      const res = await send('POST', '/v1/config', bundle(yaml(), { [`${'d/'.repeat(2000)}f`]: 'x' }));
      assert.equal(res.status, 400, refusal(res.body));
      assert.match(res.body.error!.message, /more than the limit of (1024 for a path|32)/);
      const deep = await send('POST', '/v1/config', bundle(yaml(), { [`${'d/'.repeat(40)}f`]: 'x' }));
      assert.equal(deep.status, 400, refusal(deep.body));
      assert.match(deep.body.error!.message, /40 folders deep, more than the limit of 32/);
      assert.deepEqual(staged(), []);
    });
  });

  describe('tokens and request types', () => {
    it("refuses a deployer's envs that name no environment of the applied configuration, naming the ones there are", async () => {
      for (const envs of [['nonexistent'], [''], ['dev', 'nonexistent']]) {
        const res = await send('POST', '/v1/tokens', { name: 'ci', role: 'deployer', envs });
        assert.equal(res.status, 400, `${JSON.stringify(envs)}: ${refusal(res.body)}`);
        assert.match(res.body.error!.message, /^--envs names ".*", which is not an environment of the applied configuration \(its environments: dev, production\)/);
      }
      const ok = await send('POST', '/v1/tokens', { name: 'ci', role: 'deployer', envs: ['dev'] });
      assert.equal(ok.status, 201, refusal(ok.body));
    });

    it('does not coerce an array into a scalar or back, nor a number into a string', async () => {
      for (const body of [{ name: 'boss', role: ['admin'] }, { name: ['boss'], role: 'viewer' }, { name: 'boss', role: 'deployer', envs: 'dev' }, { name: 7, role: 'viewer' }]) {
        const res = await send('POST', '/v1/tokens', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${refusal(res.body)}`);
        assert.equal(res.body.error!.kind, 'invalid');
      }
      assert.equal((await send('POST', '/v1/services/web/scale', { environment: 'dev', replicas: '3' })).status, 400);
      // A URL's parts are text: their numbers are still read as numbers.
      assert.equal((await send('GET', '/v1/audit?limit=1')).status, 200);
    });
  });

  describe('errors', () => {
    it('names every answer with a request id; an internal error is 500 with that id, logged with its stack', async () => {
      const broken = new ServerCore(state, db, {});
      broken.environmentNames = async () => {
        throw new TypeError('a bug planted by the test');
      };
      const lines: string[] = [];
      const other = await buildApp(broken, { log: { write: (line) => void lines.push(line) } });
      try {
        const res = await other.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'x', role: 'deployer', envs: ['dev'] } });
        assert.equal(res.statusCode, 500);
        const id = res.headers['x-request-id'] as string;
        assert.match(id, /^[0-9a-f]{12}$/);
        assert.equal(res.json().error.message, `internal error (request ${id}): a bug planted by the test`);
        assert.match(res.json().error.fix, new RegExp(`the server's log has the stack trace under request ${id}`));
        const logged = lines.map((l) => JSON.parse(l) as { reqId?: string; err?: { stack?: string } }).find((l) => l.reqId === id);
        assert.ok(logged, lines.join('\n'));
        assert.match(logged.err!.stack!, /TypeError: a bug planted by the test\n\s+at /);
      } finally {
        await other.close();
      }
      const refused = await send('POST', '/v1/tokens', { name: 'x', role: 'nope' });
      assert.match(refused.headers['x-request-id'] as string, /^[0-9a-f]{12}$/);
      assert.deepEqual(log, [], 'a refusal is not a bug: nothing in the log');
    });
  });
});

describe('the modes of the state', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-state-modes-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

  it('a new state folder is 0700, its store and journals 0600', async () => {
    const state = join(dir, 'new', 'state');
    const db = await openStore(state);
    try {
      await bootstrapAdmin(db);
      assert.equal(mode(state), '700');
      const files = readdirSync(state).filter((f) => f.startsWith('berth.db'));
      assert.deepEqual(files.sort(), ['berth.db', 'berth.db-shm', 'berth.db-wal']);
      for (const file of files) assert.equal(mode(join(state, file)), '600', file);
    } finally {
      await closeStore(db);
    }
  });

  it("the server's start warns about a state others may read, with the fix, and changes nothing", async () => {
    const state = join(dir, 'wide');
    mkdirSync(state, { mode: 0o755 });
    writeFileSync(join(state, 'secret.key'), 'k\n', { mode: 0o644 });
    const said: string[] = [];
    const server = await startServer({ listen: '127.0.0.1:0', stateDir: state, env: {}, reconcileIntervalMs: 0, say: (line) => void said.push(line), log: () => {} });
    await server.close();
    const warning = said.find((line) => line.startsWith('warning: '));
    assert.ok(warning, said.join('\n'));
    assert.match(warning, new RegExp(`readable by other users of this machine .*: ${state} 0755, secret\\.key 0644; fix: chmod -R go-rwx ${state}$`));
    assert.equal(mode(state), '755', 'the warning changes nothing');
  });
});
