/**
 * A test process to interrupt, for sweep.int.test.ts: it makes a fixture with
 * an image, a running container on a network of the project and a front door
 * (a door container on the local engine),
 * prints what it made as one JSON line, and waits to be killed.
 */
import { DOOR_IMAGE } from '../lb/door-image.js';
import { ensureFrontDoor, freePort } from '../lb/front-door.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import { closeStore, openStore } from '../store/db.js';
import { makeFixture, tinyRootTarball } from './fixture.js';
import { BUSYBOX } from './tiny-root.js';

export interface Made {
  name: string;
  dir: string;
  container: string;
  network: string;
  image: string;
  /** The front door's container. */
  door: string;
}

const fixture = await makeFixture({});
const { engine, name } = fixture;
const image = await engine.images.importTarball(await tinyRootTarball(), 'berth-test-sweep', name, { 'berth.project': name });
const network = `berth-${name}-nat`;
await engine.networks.create({ Name: network, Driver: 'bridge', Labels: { 'berth.project': name }, CheckDuplicate: true });
const container = await engine.containers.create({
  name: `${name}.web-dev-1`,
  Image: `berth-test-sweep:${name}`,
  Cmd: [BUSYBOX, 'sleep', '3600'],
  Labels: { 'berth.project': name },
  HostConfig: { Init: true, NetworkMode: network },
});
await engine.containers.start(container);
const db = await openStore(`${fixture.dir}/.berth`);
const doorImage = await ensureSystemImage(DOOR_IMAGE, { engine, db, env: fixture.env });
await closeStore(db);
const place = { project: name, members: [{ host: 'local', engine, local: true }], image: async () => doorImage };
const door = await ensureFrontDoor({ id: 'dev-web', bind: { address: '127.0.0.1', port: await freePort() }, servers: [] }, place);
const made: Made = { name, dir: fixture.dir, container, network, image, door: door.members[0]!.container };
process.stdout.write(`${JSON.stringify(made)}\n`);
// Stays until a signal: its handler (cleanup.ts) cleans up, a SIGKILL leaves everything for the sweep.
setInterval(() => {}, 60_000);
