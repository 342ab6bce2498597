/**
 * Keeps keepalived's container on each door host in step with the doors of
 * its environment there: made with the door's image when the first door is
 * there, its configuration reloaded when a door comes or goes (the address
 * stays where it is), removed with the last door.
 */
import { firstFileOf } from '../engine/archive.js';
import { isBerthError, unavailable } from '../errors.js';
import { DOOR_LABELS } from './door-container.js';
import { DOOR_PATHS } from './door-image.js';
import { tarOf, type DoorMember } from './front-door.js';
import { vrrpFiles, type VrrpMemberFiles } from './keepalived-config.js';
import { doorsToCheck, vrrpAction, vrrpContainerName, vrrpCreateBody, VRRP_LABELS, VRRP_STOP_SECONDS, type VrrpAction, type VrrpObserved } from './vrrp-container.js';

export interface VrrpPlace {
  project: string;
  environment: string;
  /** The shared address. */
  address: string;
  /** The ids (env-service) of the environment's doors: what keepalived checks where they run. */
  doorIds: readonly string[];
  /** Each with its own address on the LAN, in the order of front_door.hosts. */
  members: readonly DoorMember[];
  /** The door image on the member's engine. */
  image(member: DoorMember): Promise<string>;
}

/** What was done on each host, by host. */
export async function settleVrrp(place: VrrpPlace): Promise<Map<string, VrrpAction>> {
  // A running keepalived is replaced (a new door image) on one member at a time: the one stopping hands the
  // address to a peer that still runs, never to nobody.
  let replacing: Promise<unknown> = Promise.resolve();
  const oneAtATime: OneAtATime = (work) => {
    const next = replacing.then(work);
    replacing = next.catch(() => {});
    return next;
  };
  const actions = await Promise.all(place.members.map(async (member) => [member.host, await settleOn(place, member, oneAtATime)] as const));
  return new Map(actions);
}

type OneAtATime = <T>(work: () => Promise<T>) => Promise<T>;

/** Settles in this process, one at a time per engine and container: each chain's tail. */
const settling = new Map<string, Promise<unknown>>();

/**
 * The member's keepalived after a look at the environment's doors on its host. Rollouts of two services of one
 * environment may settle it at once: in one process they take turns (a container just made would look stopped
 * to the other, which would replace it); across processes, the one whose create finds the name taken looks again.
 */
function settleOn(place: VrrpPlace, member: DoorMember, oneAtATime: OneAtATime): Promise<VrrpAction> {
  const key = `${member.engine.endpoint} ${vrrpContainerName(place.project, place.environment)}`;
  const next = (settling.get(key) ?? Promise.resolve()).then(
    () => settleNow(place, member, oneAtATime),
    () => settleNow(place, member, oneAtATime),
  );
  const tail = next.catch(() => {});
  settling.set(key, tail);
  void tail.then(() => {
    if (settling.get(key) === tail) settling.delete(key);
  });
  return next;
}

async function settleNow(place: VrrpPlace, member: DoorMember, oneAtATime: OneAtATime, again = true): Promise<VrrpAction> {
  const doors = doorsToCheck(await doorsOn(member, place.project), new Set(place.doorIds));
  const files = doors.length === 0 ? undefined : vrrpFiles({ project: place.project, environment: place.environment, address: place.address, members: place.members.map(memberAddress), doors }).get(member.host)!;
  try {
    return await settleMember(place, member, files, oneAtATime);
  } catch (error) {
    if (again && isBerthError(error) && error.kind === 'conflict') return settleNow(place, member, oneAtATime, false);
    throw error;
  }
}

async function settleMember(place: VrrpPlace, member: DoorMember, files: VrrpMemberFiles | undefined, oneAtATime: OneAtATime): Promise<VrrpAction> {
  const name = vrrpContainerName(place.project, place.environment);
  const observed = await observe(member, name);
  const image = files ? await place.image(member) : '';
  const action = vrrpAction(observed, files ? { image, keepalived: files.keepalived } : undefined);
  const apply = () => applyAction(place, member, name, action, observed, image, files);
  return action === 'replace' && observed?.running ? oneAtATime(apply) : apply();
}

async function applyAction(place: VrrpPlace, member: DoorMember, name: string, action: VrrpAction, observed: VrrpObserved | undefined, image: string, files: VrrpMemberFiles | undefined): Promise<VrrpAction> {
  const { containers } = member.engine;
  if (action === 'remove' || action === 'replace') {
    // keepalived's soft stop tells its peers, which take the address at once.
    if (observed?.running) await containers.stop(name, VRRP_STOP_SECONDS);
    await containers.remove(name);
  }
  if ((action === 'create' || action === 'replace') && files) {
    const id = await containers.create(vrrpCreateBody({ project: place.project, environment: place.environment, image }));
    try {
      await containers.putArchive(id, DOOR_PATHS.dir, await tarOf(filesOf(files)));
      await containers.start(id);
    } catch (error) {
      await containers.remove(id).catch(() => {});
      throw error;
    }
  }
  if (action === 'reload' && files) {
    await containers.putArchive(name, DOOR_PATHS.dir, await tarOf(filesOf(files)));
    const result = await member.engine.exec(name, [DOOR_PATHS.vrrp, 'reload']);
    if (result.exitCode !== 0) throw unavailable(`keepalived in ${name} on ${member.host} did not take its new configuration`, { lines: result.output.trim().split('\n').slice(-4), fix: 'see the container\'s log' });
  }
  return action;
}

function memberAddress(member: DoorMember): { host: string; address: string } {
  return { host: member.host, address: member.address ?? '' };
}

/** The project's door containers on the member's host (their labels). */
async function doorsOn(member: DoorMember, project: string): Promise<{ labels: Record<string, string> }[]> {
  const ids = await member.engine.containers.list([`${VRRP_LABELS.project}=${project}`, DOOR_LABELS.door]);
  const states = await Promise.all(ids.map((id) => member.engine.containers.inspect(id)));
  return states.flatMap((s) => (s ? [{ labels: s.labels }] : []));
}

async function observe(member: DoorMember, name: string): Promise<VrrpObserved | undefined> {
  const state = await member.engine.containers.inspect(name);
  if (!state) return undefined;
  const keepalived = await member.engine.containers
    .getArchive(name, DOOR_PATHS.keepalived)
    .then(firstFileOf)
    .catch((error: unknown) => {
      if (isBerthError(error) && error.kind === 'not-found') return '';
      throw error;
    });
  return { running: state.running, image: state.labels[VRRP_LABELS.image] ?? '', keepalived };
}

function filesOf(files: VrrpMemberFiles): [string, string][] {
  return [
    ['keepalived.conf', files.keepalived],
    ['vrrp.env', files.env],
  ];
}
