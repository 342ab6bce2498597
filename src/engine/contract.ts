/**
 * The engine contract: what Berth relies on an engine to do, as one suite that runs against the
 * real engine (contract.int.test.ts) and the FakeEngine (contract.test.ts), so the fake cannot
 * drift from Docker. Everything it makes carries the subject's berth.project label and name.
 *
 * Left out, because the fake cannot answer them honestly (its answers there are the test's own
 * scripts): what an exec'd command prints and exits with, a container's log output, a process
 * that exits by itself (restart policies), pull/push/build (they need a registry or a build
 * context; the fake records them), and how long anything takes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BerthError } from '../errors.js';
import type { ContainerState, CreateBody } from './containers.js';
import type { Engine } from './engine.js';
import { isUnreachable } from './errors.js';
import type { EngineEvent } from './events.js';
import { compareApi } from './http.js';

export interface ContractSubject {
  engine: Engine;
  /** Unique to this run: the berth.project label and the name prefix of everything the suite makes. */
  project: string;
  /** A root filesystem tarball with /bin/sleep, /bin/true and /bin/false (busybox), imported as the suite's image. */
  tarball: string;
  /** The real engine runs a container's health command itself; the fake is told what it would have found. */
  healthCheckRan(engine: Engine, container: string, passed: boolean): void;
  /** An engine of the same kind that nobody answers for. */
  unreachable(): Engine;
  cleanup(): Promise<void>;
}

/** Registers the contract's tests for the subject `setUp` makes (once, before them). */
export function engineContract(kind: string, setUp: () => Promise<ContractSubject>): void {
  describe(`the engine contract (${kind})`, () => {
    let s: ContractSubject;
    let engine: Engine;
    let image: string;
    let label: string;
    let count = 0;
    const name = (what: string) => `${s.project}-${what}-${++count}`;
    const body = (what: string, extra: Partial<CreateBody> = {}): CreateBody => ({
      name: name(what),
      Image: image,
      Cmd: ['/bin/sleep', '3600'],
      ...extra,
      Labels: { 'berth.project': s.project, ...extra.Labels },
      HostConfig: { Init: true, ...extra.HostConfig },
    });
    const state = async (id: string): Promise<ContainerState> => {
      const found = await engine.containers.inspect(id);
      assert.ok(found, `container ${id} is there`);
      return found;
    };

    before(async () => {
      s = await setUp();
      engine = s.engine;
      label = `berth.project=${s.project}`;
      image = await engine.images.importTarball(s.tarball, `berth-contract-${s.project}`, 'tiny', { 'berth.project': s.project });
    });
    after(() => s?.cleanup());

    it('answers undefined for an absent container, image or network; removing an absent container or network is fine', async () => {
      assert.equal(await engine.containers.inspect(`${s.project}-absent`), undefined);
      assert.equal(await engine.images.inspect(`berth-contract-${s.project}:absent`), undefined);
      assert.equal(await engine.images.has(`berth-contract-${s.project}:absent`), false);
      assert.equal(await engine.networks.inspect(`${s.project}-absent`), undefined);
      await engine.containers.remove(`${s.project}-absent`);
      await engine.networks.remove(`${s.project}-absent`);
      await assert.rejects(engine.containers.start(`${s.project}-absent`), { kind: 'not-found' });
    });

    it('creates, starts, stops and removes a container, reporting each state', async () => {
      const id = await engine.containers.create(body('life', { Labels: { role: 'life' } }));
      const created = await state(id);
      assert.deepEqual([created.id, created.name, created.image, created.running, created.status, created.restartCount], [id, `${s.project}-life-${count}`, image, false, 'created', 0]);
      assert.deepEqual(created.labels, { 'berth.project': s.project, role: 'life' });
      assert.equal(created.health, undefined);
      await engine.containers.start(id);
      await engine.containers.start(id);
      const running = await state(id);
      assert.deepEqual([running.running, running.status], [true, 'running']);
      assert.equal(created.pid, undefined, 'no pid before it runs');
      assert.ok(Number.isInteger(running.pid) && running.pid! > 0, `a running container has its process's pid: ${running.pid}`);
      assert.ok(Date.parse(running.startedAt) > Date.parse('2000-01-01'), running.startedAt);
      assert.deepEqual(await state(created.name), running, 'found by its name too');
      const exited = engine.containers.wait(id);
      await engine.containers.stop(id, 5);
      await engine.containers.stop(id, 5);
      assert.equal(await exited, 143, 'SIGTERM ended it (through the init)');
      const stopped = await state(id);
      assert.deepEqual([stopped.running, stopped.status, stopped.exitCode], [false, 'exited', 143]);
      assert.equal(stopped.pid, undefined, 'none once it stopped');
      await engine.containers.restart(id, 5);
      assert.equal((await state(id)).running, true, 'a restart starts a stopped container');
      await engine.containers.remove(id);
      assert.equal(await engine.containers.inspect(id), undefined);
    });

    it('reports a container\'s restart policy, and changes it in place: the running container is neither stopped nor recreated', async () => {
      const none = await engine.containers.create(body('policy-none'));
      assert.equal((await state(none)).restartPolicy, 'no', 'no policy given is no');
      const id = await engine.containers.create(body('policy', { HostConfig: { RestartPolicy: { Name: 'unless-stopped' } } }));
      await engine.containers.start(id);
      const before = await state(id);
      assert.equal(before.restartPolicy, 'unless-stopped');
      await engine.containers.setRestartPolicy(id, 'no');
      const after = await state(id);
      assert.deepEqual([after.id, after.running, after.startedAt, after.pid, after.restartPolicy], [id, true, before.startedAt, before.pid, 'no']);
      await engine.containers.setRestartPolicy(none, 'always');
      assert.equal((await state(none)).restartPolicy, 'always', 'a container that never ran too');
      await assert.rejects(engine.containers.setRestartPolicy(`${s.project}-absent`, 'no'), { kind: 'not-found' });
      await engine.containers.remove(id);
      await engine.containers.remove(none);
    });

    it('removes a running container', async () => {
      const id = await engine.containers.create(body('running'));
      await engine.containers.start(id);
      await engine.containers.remove(id);
      assert.equal(await engine.containers.inspect(id), undefined);
    });

    it('refuses a taken name as a conflict, on create and on rename; the name is free again once removed', async () => {
      const first = body('named');
      const id = await engine.containers.create(first);
      await assert.rejects(engine.containers.create({ ...first }), { kind: 'conflict', message: new RegExp(`is already in use`) });
      const other = await engine.containers.create(body('other'));
      await assert.rejects(engine.containers.rename(other, first.name!), { kind: 'conflict' });
      await engine.containers.rename(other, `${first.name}-renamed`);
      assert.equal((await state(other)).name, `${first.name}-renamed`);
      await engine.containers.remove(id);
      assert.equal(await engine.containers.create({ ...first }).then((again) => typeof again), 'string');
    });

    it('refuses a container of an image it does not have as not-found', async () => {
      await assert.rejects(engine.containers.create(body('imageless', { Image: `berth-contract-${s.project}:absent` })), { kind: 'not-found', message: /No such image/ });
    });

    it('lists containers by label: "key=value" and "key" alone, every filter matching; summaries with state', async () => {
      const a = await engine.containers.create(body('list', { Labels: { 'berth.project': s.project, tier: 'a', extra: 'x' } }));
      const b = await engine.containers.create(body('list', { Labels: { 'berth.project': s.project, tier: 'b' } }));
      await engine.containers.start(b);
      const sorted = (ids: string[]) => [...ids].sort();
      assert.deepEqual(await engine.containers.list([label, 'tier=a']), [a]);
      assert.deepEqual(sorted(await engine.containers.list([label, 'tier'])), sorted([a, b]));
      assert.deepEqual(await engine.containers.list([label, 'extra']), [a]);
      assert.deepEqual(await engine.containers.list([label, 'tier=c']), []);
      const summaries = await engine.containers.summaries([label, 'tier']);
      const byId = new Map(summaries.map((x) => [x.id, x]));
      assert.deepEqual([byId.get(a)?.state, byId.get(a)?.status], ['created', 'Created']);
      assert.equal(byId.get(b)?.state, 'running');
      assert.match(byId.get(b)?.status ?? '', /^Up /);
      assert.deepEqual(byId.get(b)?.labels, { 'berth.project': s.project, tier: 'b' });
      assert.equal(byId.get(b)?.name, (await state(b)).name);
    });

    it('gives a container its static IP and MAC on a user network with a subnet, and the next free address to one without', async () => {
      const network = `${s.project}-lan`;
      const subnet = await createNetwork(engine, network, s.project);
      const prefix = subnet.replace(/\.0\/24$/, '');
      const seen = await engine.networks.inspect(network);
      assert.deepEqual([seen?.name, seen?.driver, seen?.subnet, seen?.gateway, seen?.labels], [network, 'bridge', subnet, `${prefix}.1`, { 'berth.project': s.project }]);
      await assert.rejects(engine.networks.create({ Name: network, Driver: 'bridge', Labels: {}, CheckDuplicate: true }), { kind: 'conflict' });
      assert.deepEqual((await engine.networks.list([label])).map((n) => n.name), [network]);

      const ip = `${prefix}.77`;
      const mac = '02:42:0a:bb:cc:4d';
      const perEndpointMac = compareApi(await engine.apiVersion(), '1.44') >= 0;
      const fixed = await engine.containers.create(
        body('static', {
          ...(perEndpointMac ? {} : { MacAddress: mac }),
          HostConfig: { NetworkMode: network },
          NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip }, ...(perEndpointMac ? { MacAddress: mac } : {}) } } },
        }),
      );
      const free = await engine.containers.create(body('dynamic', { HostConfig: { NetworkMode: network } }));
      await engine.containers.start(fixed);
      await engine.containers.start(free);
      assert.deepEqual((await state(fixed)).networks, { [network]: { ip, mac } });
      const other = (await state(free)).networks[network];
      assert.ok(other, 'the second container is on the network');
      assert.match(other.ip, new RegExp(`^${prefix.replaceAll('.', '\\.')}\\.\\d+$`));
      assert.notEqual(other.ip, ip);
      assert.notEqual(other.ip, `${prefix}.1`);
      assert.match(other.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);

      await engine.containers.stop(fixed, 5);
      assert.deepEqual((await state(fixed)).networks[network]?.ip, '', 'a stopped container holds no address');
      await assert.rejects(engine.networks.remove(network), { kind: 'failed', message: /active endpoints/ });
      await engine.containers.remove(free);
      await engine.containers.remove(fixed);
      await engine.networks.remove(network);
      assert.equal(await engine.networks.inspect(network), undefined);
    });

    it('publishes a port on a host port the engine picks, while the container runs', async () => {
      const id = await engine.containers.create(
        body('ports', { ExposedPorts: { '8080/tcp': {} }, HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: '' }] } } }),
      );
      await engine.containers.start(id);
      const port = (await state(id)).ports['8080/tcp'];
      assert.ok(port !== undefined && port > 0 && port < 65536, `host port ${String(port)}`);
      await engine.containers.stop(id, 5);
      assert.deepEqual((await state(id)).ports, {});
      await engine.containers.remove(id);
    });

    it('reports health: starting until the check has run, then healthy or unhealthy', async () => {
      const check = (command: string) => ({ Test: ['CMD', command], Interval: 500_000_000, Timeout: 5_000_000_000, Retries: 1 });
      const passing = await engine.containers.create(body('healthy', { Healthcheck: check('/bin/true') }));
      const failing = await engine.containers.create(body('unhealthy', { Healthcheck: check('/bin/false') }));
      await engine.containers.start(passing);
      await engine.containers.start(failing);
      assert.ok(['starting', 'healthy'].includes((await state(passing)).health ?? ''), 'starting, unless the first check already ran');
      s.healthCheckRan(engine, passing, true);
      s.healthCheckRan(engine, failing, false);
      assert.equal(await eventually(async () => ((await state(passing)).health === 'healthy' ? 'healthy' : undefined)), 'healthy');
      assert.equal(await eventually(async () => ((await state(failing)).health === 'unhealthy' ? 'unhealthy' : undefined)), 'unhealthy');
      const summaries = await engine.containers.summaries([label]);
      assert.match(summaries.find((x) => x.id === passing)?.status ?? '', /\(healthy\)$/);
      await engine.containers.remove(passing);
      await engine.containers.remove(failing);
    });

    it("delivers a container's start and die to a subscriber whose filters match, and nothing of others", async () => {
      const aborter = new AbortController();
      const seen: EngineEvent[] = [];
      const stream = engine.events({ type: ['container'], event: ['create', 'start', 'die'], label: [label, 'watched=yes'] }, aborter.signal);
      let ended: unknown;
      const reading = (async () => {
        for await (const event of stream) seen.push(event);
      })().catch((error: unknown) => (ended = error));
      // The stream is live once a container created after subscribing shows up in it.
      const marker = body('marker', { Labels: { 'berth.project': s.project, watched: 'yes' } });
      await eventually(async () => {
        await engine.containers.remove(marker.name!);
        const id = await engine.containers.create(marker);
        await pause(200);
        return seen.some((e) => e.id === id) ? id : undefined;
      });
      const unwatched = await engine.containers.create(body('unwatched'));
      const id = await engine.containers.create(body('watched', { Labels: { 'berth.project': s.project, watched: 'yes' } }));
      await engine.containers.start(unwatched);
      await engine.containers.start(id);
      // A grace no busy machine runs out of: the exit code must be SIGTERM's, not the SIGKILL after it.
      await engine.containers.stop(id, 120);
      const actions = await eventually(async () => {
        const of = seen.filter((e) => e.id === id).map((e) => e.action);
        return of.includes('die') ? of : undefined;
      });
      assert.deepEqual(actions, ['create', 'start', 'die']);
      const die = seen.find((e) => e.id === id && e.action === 'die')!;
      assert.equal(die.type, 'container');
      assert.equal(die.attributes.watched, 'yes');
      assert.equal(die.attributes.name, (await state(id)).name);
      assert.equal(die.attributes.exitCode, '143');
      assert.ok(!seen.some((e) => e.id === unwatched), 'nothing of a container the label filter leaves out');
      aborter.abort();
      await reading;
      assert.equal(ended, undefined, 'an aborted stream ends without an error');
      await engine.containers.remove(unwatched);
      await engine.containers.remove(id);
    });

    it('refuses an exec in a stopped container as a conflict, in an absent one as not-found', async () => {
      const id = await engine.containers.create(body('exec'));
      await assert.rejects(engine.exec(id, ['/bin/true']), { kind: 'conflict' });
      await assert.rejects(engine.exec(`${s.project}-absent`, ['/bin/true']), { kind: 'not-found' });
      await engine.containers.remove(id);
    });

    it('tags, finds by tag and ID, lists by label, and untags one tag of several', async () => {
      const repo = `berth-contract-${s.project}`;
      await engine.images.tag(image, repo, 'extra');
      const byTag = await engine.images.inspect(`${repo}:extra`);
      assert.equal(byTag?.id, image);
      assert.deepEqual(byTag?.tags.sort(), [`${repo}:extra`, `${repo}:tiny`]);
      assert.deepEqual(byTag?.labels, { 'berth.project': s.project });
      assert.equal((await engine.images.inspect(image))?.id, image);
      assert.deepEqual((await engine.images.list(label)).map((i) => i.id), [image]);
      await engine.images.remove(`${repo}:extra`);
      assert.equal(await engine.images.has(`${repo}:extra`), false);
      assert.equal(await engine.images.has(`${repo}:tiny`), true, 'the image stays under its other tag');
      await assert.rejects(engine.images.remove(`${repo}:extra`), { kind: 'not-found' });
    });

    it('makes an image in one container: committed with the given configuration, tagged, read back; the container goes', async () => {
      const repo = `berth-contract-${s.project}`;
      const labels = { 'berth.project': s.project, 'contract.build': name('build') };
      const config = { env: ['PATH=/bin', 'A=1'], labels, exposedPorts: ['80/tcp'], entrypoint: ['/bin/sleep'], cmd: ['1'], workingDir: '/', user: '' };
      const built = await engine.images.buildInContainer({ tag: `${repo}:built`, parent: image, files: Buffer.alloc(1024), cmd: ['/bin/true'], env: ['A=1'], labels, config }, () => {});
      assert.equal((await engine.images.inspect(`${repo}:built`))?.id, built);
      assert.deepEqual(await engine.images.config(built), config);
      assert.deepEqual(await engine.containers.list([`contract.build=${labels['contract.build']}`]), []);
      assert.equal(await engine.images.config(`${repo}:absent`), undefined);
    });

    it('fails every call to an engine nobody answers for as unavailable, and says so', async () => {
      const down = s.unreachable();
      const calls: [string, () => Promise<unknown>][] = [
        ['version', () => down.version()],
        ['ping', () => down.ping(2000)],
        ['inspect a container', () => down.containers.inspect('x')],
        ['list containers', () => down.containers.list([label])],
        ['create a container', () => down.containers.create(body('down'))],
        ['remove a container', () => down.containers.remove('x')],
        ['inspect a network', () => down.networks.inspect('x')],
        ['inspect an image', () => down.images.inspect('x')],
        ['follow events', () => down.events({}, new AbortController().signal).next()],
      ];
      for (const [what, call] of calls) {
        const error = await call().then(
          () => assert.fail(`${what} answered`),
          (e: unknown) => e,
        );
        assert.ok(error instanceof BerthError, `${what}: ${String(error)}`);
        assert.equal(error.kind, 'unavailable', what);
        assert.ok(isUnreachable(error), `${what}: isUnreachable`);
        assert.ok(error.message.startsWith(`the engine at ${down.endpoint} `), error.message);
      }
      await down.close();
    });
  });
}

/** A bridge network on a /24 in 10.200.0.0–10.254.255.0 that no network of the engine overlaps (another taking it meanwhile: the next). */
async function createNetwork(engine: Engine, name: string, project: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const taken = (await engine.networks.list([])).map((n) => n.subnet ?? '');
    const subnet = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}.0/24`;
    if (taken.some((t) => overlaps(t, subnet))) continue;
    try {
      await engine.networks.create({ Name: name, Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: subnet.replace(/0\/24$/, '1') }] }, Labels: { 'berth.project': project }, CheckDuplicate: true });
      return subnet;
    } catch (error) {
      if (!/overlaps/i.test((error as Error).message)) throw error;
    }
  }
  throw new Error('no free /24 in 10.200.0.0/16–10.254.0.0/16 after 20 tries');
}

/** Whether two IPv4 subnets ("a.b.c.d/n") share an address. */
function overlaps(a: string, b: string): boolean {
  const range = (text: string) => {
    const [ip = '', bits = '32'] = text.split('/');
    const base = ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const size = 2 ** (32 - Number(bits));
    return [base - (base % size), base - (base % size) + size - 1] as const;
  };
  if (!a.includes('/')) return false;
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

/** Polls until `probe` gives a value: the engine does some things a moment after it answers (a health check, an event). */
async function eventually<T>(probe: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${deadlineMs / 1000} s`);
    await pause(100);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
