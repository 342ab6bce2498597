/**
 * What the FakeEngine does beyond the engine contract (contract.ts): the faults a test injects and
 * the process behaviour a test drives, which no real engine can be asked for on demand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { isUnreachable } from '../engine/errors.js';
import type { CreateBody } from '../engine/containers.js';
import type { EngineEvent } from '../engine/events.js';
import { FakeEngine, FakeRegistry } from './fake-engine.js';

const withImage = (options: ConstructorParameters<typeof FakeEngine>[0] = {}) => {
  const engine = new FakeEngine(options);
  const image = engine.addImage({ tags: ['app:1'], user: 'app', env: ['PATH=/bin', 'MODE=image'], files: { '/etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n' } });
  return { engine, image };
};
const body = (name: string, extra: Partial<CreateBody> = {}): CreateBody => ({ name, Image: 'app:1', Labels: { 'berth.project': 'p' }, ...extra });
const settled = <T>(promise: Promise<T>) => Promise.race([promise.then(() => 'settled'), new Promise((resolve) => setImmediate(() => resolve('pending')))]);

describe('the FakeEngine', () => {
  it('refuses the next matching create as injected, and only that one', async () => {
    const { engine } = withImage();
    engine.failCreate((b) => b.name === 'web-2');
    await engine.containers.create(body('web-1'));
    await assert.rejects(engine.containers.create(body('web-2')), { kind: 'failed', message: /^the engine at fake:\/\/engine refused to create container web-2: failed to create/ });
    assert.equal(await engine.containers.inspect('web-2'), undefined, 'nothing was created');
    assert.equal(typeof (await engine.containers.create(body('web-2'))), 'string');
  });

  it('holds a start until released; a removal or an engine that stops answering ends it with their errors', async () => {
    const { engine } = withImage();
    const release = engine.holdStarts((name) => name.startsWith('slow'));
    const [a, b, c] = await Promise.all(['slow-1', 'slow-2', 'slow-3'].map((n) => engine.containers.create(body(n))));
    const started = engine.containers.start(a!);
    assert.equal(await settled(started), 'pending');
    engine.write(a!, 'output does not end the hold\n');
    assert.equal(await settled(started), 'pending');
    assert.equal((await engine.containers.inspect(a!))?.running, false);
    release();
    await started;
    assert.equal((await engine.containers.inspect(a!))?.running, true);

    engine.holdStarts();
    const removedWhileStarting = engine.containers.start(b!);
    await engine.containers.remove(b!);
    await assert.rejects(removedWhileStarting, { kind: 'not-found' });
    const downWhileStarting = engine.containers.start(c!);
    engine.stopAnswering();
    await assert.rejects(downWhileStarting, (e: unknown) => isUnreachable(e));
  });

  it('stops answering: every call and every event stream fails as unreachable; then answers again', async () => {
    const { engine } = withImage();
    const stream = engine.events({}, new AbortController().signal);
    const next = stream.next();
    engine.stopAnswering();
    await assert.rejects(next, { kind: 'unavailable', message: /ended its event stream/ });
    await assert.rejects(engine.containers.list([]), (e: unknown) => isUnreachable(e));
    await assert.rejects(engine.images.pull('r/app', 'sha256:1', { serveraddress: 'r' }), (e: unknown) => isUnreachable(e));
    engine.answerAgain();
    assert.deepEqual(await engine.containers.list([]), []);
  });

  it('makes a process exit; a restart policy starts it again with its restart count raised', async () => {
    const { engine } = withImage();
    const once = await engine.containers.create(body('once'));
    const always = await engine.containers.create(body('always', { HostConfig: { RestartPolicy: { Name: 'always' } } }));
    const onFailure = await engine.containers.create(body('on-failure', { HostConfig: { RestartPolicy: { Name: 'on-failure' } } }));
    for (const id of [once, always, onFailure]) await engine.containers.start(id);
    const waited = engine.containers.wait(once);
    engine.exit('once', 3);
    assert.equal(await waited, 3);
    engine.exit('always', 0);
    engine.exit('on-failure', 0);
    const [o, a, f] = await Promise.all([once, always, onFailure].map((id) => engine.containers.inspect(id)));
    assert.deepEqual([o?.status, o?.exitCode, o?.restartCount], ['exited', 3, 0]);
    assert.deepEqual([a?.status, a?.restartCount], ['running', 1]);
    assert.deepEqual([f?.status, f?.exitCode, f?.restartCount], ['exited', 0, 0]);
  });

  it('goes down with its containers and boots as dockerd does: always and unless-stopped (unless stopped by a call) start again, no stays down', async () => {
    const { engine } = withImage();
    const ids: Record<string, string> = {};
    for (const policy of ['no', 'always', 'unless-stopped', 'stopped-by-call']) {
      ids[policy] = await engine.containers.create(body(policy, { HostConfig: { RestartPolicy: { Name: policy === 'stopped-by-call' ? 'unless-stopped' : policy } } }));
      await engine.containers.start(ids[policy]!);
    }
    await engine.containers.stop(ids['stopped-by-call']!);
    engine.goDown();
    await assert.rejects(engine.containers.list([]), (e: unknown) => isUnreachable(e));
    engine.boot();
    const states = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, (await engine.containers.inspect(id))?.status] as const)));
    assert.deepEqual(states, { no: 'exited', always: 'running', 'unless-stopped': 'running', 'stopped-by-call': 'exited' });
  });

  it("drives health and tells subscribers of health_status, with the container's labels", async () => {
    const { engine } = withImage();
    const aborter = new AbortController();
    const seen: EngineEvent[] = [];
    const stream = engine.events({ event: ['health_status'], label: ['berth.project=p'] }, aborter.signal);
    const reading = (async () => {
      for await (const event of stream) seen.push(event);
    })();
    const id = await engine.containers.create(body('db', { Healthcheck: { Test: ['CMD', 'pg_isready'] } }));
    await engine.containers.start(id);
    assert.equal((await engine.containers.inspect(id))?.health, 'starting');
    engine.setHealth(id, 'unhealthy');
    engine.setHealth(id, 'healthy');
    assert.match((await engine.containers.summaries([]))[0]!.status, /^Up .* \(healthy\)$/);
    for (let turn = 0; seen.length < 2 && turn < 100; turn++) await new Promise((resolve) => setImmediate(resolve));
    aborter.abort();
    await reading;
    assert.deepEqual(seen.map((e) => [e.action, e.attributes['berth.project']]), [['health_status: unhealthy', 'p'], ['health_status: healthy', 'p']]);
  });

  it('answers execs from the scripts, newest first, and says when none answers', async () => {
    const { engine } = withImage();
    const id = await engine.containers.create(body('web'));
    await engine.containers.start(id);
    engine.scriptExec((_c, cmd) => (cmd[0] === 'true' ? { exitCode: 0, output: '' } : undefined));
    engine.scriptExec((c, cmd) => (cmd[0] === 'hostname' ? { exitCode: 0, output: `${c.name}\n` } : undefined));
    assert.deepEqual(await engine.exec(id, ['hostname']), { exitCode: 0, output: 'web\n' });
    assert.deepEqual(await engine.exec('web', ['true']), { exitCode: 0, output: '' });
    assert.equal((await engine.exec(id, ['curl', 'x'])).exitCode, 127);
  });

  it('keeps logs a test writes; follow gives them until the container stops', async () => {
    const { engine } = withImage();
    const id = await engine.containers.create(body('web'));
    await engine.containers.start(id);
    engine.write(id, 'one\ntwo\n');
    assert.equal(await engine.containers.logs(id, { tail: 1 }), 'two\n');
    const chunks: string[] = [];
    const following = engine.containers.follow(id, {}, (text) => chunks.push(text));
    await new Promise((resolve) => setImmediate(resolve));
    engine.write(id, 'three\n');
    await engine.containers.stop(id);
    await following;
    assert.equal(chunks.join(''), 'one\ntwo\nthree\n');
  });

  it("copies files in and out of a container over its image's, with the image's user and environment", async () => {
    const { engine } = withImage();
    const id = await engine.containers.create(body('web', { Env: ['MODE=body'] }));
    assert.deepEqual(await engine.containers.processConfig(id), { user: 'app', env: { PATH: '/bin', MODE: 'body' } });
    const tar = pack();
    tar.entry({ name: 'run/secrets/TOKEN', mode: 0o400 }, 's3cret');
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar) chunks.push(chunk as Buffer);
    await engine.containers.putArchive(id, '/', Buffer.concat(chunks));
    const archive = await engine.containers.getArchive(id, '/run/secrets/TOKEN');
    assert.ok(archive.includes(Buffer.from('s3cret')));
    assert.ok((await engine.containers.getArchive(id, '/etc/passwd')).includes(Buffer.from('app:x:1000')));
    await assert.rejects(engine.containers.getArchive(id, '/etc/group'), { kind: 'not-found' });
  });

  it('pulls only what was pushed to its registry, with the right credentials, and records both', async () => {
    const registry = new FakeRegistry({ username: 'berth', password: 'pw' });
    const auth = { serveraddress: '10.0.0.2:5000', username: 'berth', password: 'pw' };
    const build = new FakeEngine({ registry, endpoint: 'fake://build' });
    const image = build.addImage({ tags: ['10.0.0.2:5000/berth/app:k1'], labels: { 'berth.image': 'app' } });
    const pushed = await build.images.push('10.0.0.2:5000/berth/app', 'k1', auth);
    assert.deepEqual(pushed.uploaded.length, 1);
    assert.deepEqual((await build.images.push('10.0.0.2:5000/berth/app', 'k1', auth)).existing.length, 1);
    const host = new FakeEngine({ registry, endpoint: 'fake://h1' });
    await assert.rejects(host.images.pull('10.0.0.2:5000/berth/app', pushed.digest, { ...auth, password: 'nope' }), (e: Error) => {
      assert.match(e.message, /^the engine at fake:\/\/h1 could not pull .*: unauthorized/);
      return !e.message.includes('nope');
    });
    await assert.rejects(host.images.pull('10.0.0.2:5000/berth/app', 'sha256:0000', auth), { kind: 'failed', message: /manifest unknown/ });
    assert.deepEqual(await host.images.pull('10.0.0.2:5000/berth/app', pushed.digest, auth), { downloaded: 1 });
    assert.deepEqual(await host.images.pull('10.0.0.2:5000/berth/app', pushed.digest, auth), { downloaded: 0 });
    const ref = `10.0.0.2:5000/berth/app@${pushed.digest}`;
    assert.equal((await host.images.inspect(ref))?.id, image);
    assert.deepEqual(host.images.pulls, [{ repo: '10.0.0.2:5000/berth/app', digest: pushed.digest }, { repo: '10.0.0.2:5000/berth/app', digest: pushed.digest }]);
    assert.equal(typeof (await host.containers.create({ name: 'web', Image: ref })), 'string');
  });

  it('puts the MAC where the API version says (the container below 1.44, the endpoint from 1.44); refuses a static IP outside the subnet or taken', async () => {
    for (const [apiVersion, where] of [['1.41', 'container'], ['1.44', 'endpoint']] as const) {
      const { engine } = withImage({ apiVersion });
      await engine.networks.create({ Name: 'lan', Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] }, Labels: {}, CheckDuplicate: true });
      const mac = '02:42:0a:09:00:63';
      const endpoint = (ip: string) => ({ [`lan`]: { IPAMConfig: { IPv4Address: ip }, ...(where === 'endpoint' ? { MacAddress: mac } : {}) } });
      const id = await engine.containers.create(body('web-a', { ...(where === 'container' ? { MacAddress: mac } : {}), HostConfig: { NetworkMode: 'lan' }, NetworkingConfig: { EndpointsConfig: endpoint('10.9.0.99') } }));
      await engine.containers.start(id);
      assert.deepEqual((await engine.containers.inspect(id))?.networks, { lan: { ip: '10.9.0.99', mac } }, apiVersion);
      const taken = await engine.containers.create(body('web-b', { HostConfig: { NetworkMode: 'lan' }, NetworkingConfig: { EndpointsConfig: endpoint('10.9.0.99') } }));
      await assert.rejects(engine.containers.start(taken), { kind: 'failed', message: /Address already in use/ });
      assert.equal((await engine.containers.inspect(taken))?.running, false);
      const outside = await engine.containers.create(body('web-c', { HostConfig: { NetworkMode: 'lan' }, NetworkingConfig: { EndpointsConfig: endpoint('10.8.0.5') } }));
      await assert.rejects(engine.containers.start(outside), { kind: 'failed', message: /does not belong/ });
      await assert.rejects(engine.containers.create(body('web-d', { NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } } })), { kind: 'failed', message: /user configured subnets/ });
    }
  });
});
