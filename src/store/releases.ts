/**
 * Release's records: releases, rollouts with their journal, scale overrides and
 * front door ports. Every write of a rollout's journal carries the fence of the
 * lease it runs under (leases.ts) and is refused once another process holds it.
 */
import type { Selectable } from 'kysely';
import { conflict } from '../errors.js';
import { inTransaction, type Store } from './db.js';
import { fenced, type Fence } from './leases.js';
import type { ReleasesTable, RolloutsTable } from './schema.js';

export interface Release {
  service: string;
  number: number;
  image: string;
  imageId: string;
  digest: string;
  repository: string;
  /** The service's settings at release time (canonical JSON of its ServiceSpec): promotion moves them unchanged. */
  config: string;
  createdAt: number;
  createdBy: string;
  /** The configuration version (berth apply) a server made it with; absent in-process. */
  configVersion?: number;
}

export type RolloutKind = 'release' | 'promote' | 'rollback' | 'canary' | 'scale' | 'deploy' | 'move' | 'reconcile' | 'failover' | OperationKind;

/**
 * Rollouts that act on the instances that run (`berth restart`, `stop`, `rm`, `rollout abandon`) without
 * moving the environment to a release: they record the release it runs, and never count as running one.
 */
export type OperationKind = 'restart' | 'stop' | 'rm' | 'abandon';
export const OPERATION_KINDS: readonly OperationKind[] = ['restart', 'stop', 'rm', 'abandon'];

export function isOperation(kind: RolloutKind): kind is OperationKind {
  return (OPERATION_KINDS as readonly string[]).includes(kind);
}
export type RolloutStatus = 'running' | 'canary' | 'succeeded' | 'failed' | 'rolled-back' | 'aborted' | 'abandoned';

export interface Rollout {
  id: number;
  service: string;
  environment: string;
  release: number;
  previous: number | null;
  kind: RolloutKind;
  forced: boolean;
  status: RolloutStatus;
  message: string;
  actor: string;
  /** The journal: the plan's steps as JSON, and how many are done. */
  plan: string;
  done: number;
  startedAt: number;
  finishedAt: number | null;
  /** The evidence of the rollout's health and canary decisions (JSON object), for `berth history`. */
  evidence: string;
}

type ReleaseRow = Selectable<ReleasesTable>;

const toRelease = (r: ReleaseRow): Release => ({
  service: r.service,
  number: r.number,
  image: r.image,
  imageId: r.image_id,
  digest: r.digest,
  repository: r.repository,
  config: r.config,
  createdAt: r.created_at,
  createdBy: r.created_by,
  ...(r.config_version !== null ? { configVersion: r.config_version } : {}),
});

/** Numbers the release (per service) and records it. */
export async function createRelease(db: Store, r: Omit<Release, 'number' | 'createdAt'>, now = Date.now()): Promise<Release> {
  return inTransaction(db, async (tx) => {
    const last = await tx.selectFrom('releases').select('number').where('service', '=', r.service).orderBy('number', 'desc').limit(1).executeTakeFirst();
    const number = (last?.number ?? 0) + 1;
    await insertRelease(tx, { ...r, number }, now);
    return { ...r, number, createdAt: now };
  });
}

/**
 * The number the next new release of the service gets: above every release and every number
 * a rollout reserved (a rollout journals its release's number before its step records the row,
 * and a number once journaled is never given to another release, even when that rollout failed
 * before recording it).
 */
export async function nextReleaseNumber(db: Store, service: string): Promise<number> {
  const release = await db.selectFrom('releases').select((eb) => eb.fn.max('number').as('n')).where('service', '=', service).executeTakeFirst();
  const rollout = await db.selectFrom('rollouts').select((eb) => eb.fn.max('release').as('n')).where('service', '=', service).executeTakeFirst();
  return Math.max(Number(release?.n ?? 0), Number(rollout?.n ?? 0)) + 1;
}

/** Why a reserved number cannot be this rollout's: another release has it, or another rollout reserved it. */
async function reservedElsewhere(tx: Store, service: string, number: number): Promise<string | undefined> {
  if (await tx.selectFrom('releases').select('number').where('service', '=', service).where('number', '=', number).executeTakeFirst()) return `release ${number} of ${service} was recorded meanwhile`;
  const other = await tx.selectFrom('rollouts').select(['id', 'environment']).where('service', '=', service).where('release', '=', number).executeTakeFirst();
  return other ? `rollout #${other.id} in ${other.environment} reserved release number ${number} of ${service} meanwhile` : undefined;
}

/**
 * Records a release a rollout planned, under its reserved number, in the rollout's fenced
 * transaction. Repeating it is a no-op (the row is there, the same release); a row of another
 * release under that number is a conflict and nothing is written.
 */
export async function recordRelease(db: Store, r: Omit<Release, 'createdAt'>, fence: Fence, rollout: number, now = Date.now()): Promise<Release> {
  return fenced(db, fence, rollout, async (tx) => {
    const row = await tx.selectFrom('releases').selectAll().where('service', '=', r.service).where('number', '=', r.number).executeTakeFirst();
    if (row) {
      const found = toRelease(row);
      if (found.imageId === r.imageId && found.digest === r.digest && found.config === r.config && found.image === r.image) return found;
      throw conflict(`release number ${r.number} of ${r.service} is another release's (image ${found.image}, ${found.imageId}), not the one rollout #${rollout} planned`, {
        fix: 'run the command again: it plans the release under a new number',
      });
    }
    await insertRelease(tx, r, now);
    return { ...r, createdAt: now };
  });
}

export async function releaseOf(db: Store, service: string, number: number): Promise<Release | undefined> {
  const row = await db.selectFrom('releases').selectAll().where('service', '=', service).where('number', '=', number).executeTakeFirst();
  return row && toRelease(row);
}

export async function releasesOf(db: Store, service: string): Promise<Release[]> {
  return (await db.selectFrom('releases').selectAll().where('service', '=', service).orderBy('number', 'desc').execute()).map(toRelease);
}

type RolloutRow = Selectable<RolloutsTable>;

const toRollout = (r: RolloutRow): Rollout => ({
  id: r.id,
  service: r.service,
  environment: r.environment,
  release: r.release,
  previous: r.previous,
  kind: r.kind as RolloutKind,
  forced: r.forced === 1,
  status: r.status as RolloutStatus,
  message: r.message,
  actor: r.actor,
  plan: r.plan,
  done: r.done,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  evidence: r.evidence,
});

/**
 * Records a rollout, and names it in the lease of its service × environment (one transaction: a rollout is never left unnamed).
 * `reserves`: its release is new, recorded by a step of its plan under this number; another release or rollout that took
 * the number first (another environment of the service, planned at the same time) makes it a conflict, and nothing is written.
 */
export async function startRollout(db: Store, r: Pick<Rollout, 'service' | 'environment' | 'release' | 'previous' | 'kind' | 'forced' | 'actor' | 'plan'>, fence: Fence, now = Date.now(), reserves = false): Promise<number> {
  return fenced(db, fence, 0, async (tx) => {
    const taken = reserves ? await reservedElsewhere(tx, r.service, r.release) : undefined;
    if (taken) throw conflict(`the ${r.kind} of ${r.service} to ${r.environment} planned release number ${r.release}, but ${taken}`, { fix: 'run the command again: it plans the release under a new number' });
    const { id } = await tx
      .insertInto('rollouts')
      .values({
        service: r.service,
        environment: r.environment,
        release: r.release,
        previous: r.previous,
        kind: r.kind,
        forced: r.forced ? 1 : 0,
        status: 'running',
        actor: r.actor,
        plan: r.plan,
        done: 0,
        started_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx.updateTable('leases').set({ rollout: id }).where('service', '=', fence.service).where('environment', '=', fence.environment).where('token', '=', fence.token).execute();
    return id;
  });
}

export async function rolloutById(db: Store, id: number): Promise<Rollout | undefined> {
  const row = await db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRollout(row);
}

/** Journals progress: `done` steps of the plan are complete. */
export async function markDone(db: Store, id: number, done: number, fence: Fence): Promise<void> {
  await fenced(db, fence, id, (tx) => tx.updateTable('rollouts').set({ done }).where('id', '=', id).execute());
}

export async function replacePlan(db: Store, id: number, plan: string, fence: Fence, done = 0): Promise<void> {
  await fenced(db, fence, id, (tx) => tx.updateTable('rollouts').set({ plan, done }).where('id', '=', id).execute());
}

export async function setRolloutStatus(db: Store, id: number, status: RolloutStatus, fence: Fence, message = '', now = Date.now()): Promise<void> {
  const finished = status === 'running' || status === 'canary' ? null : now;
  await fenced(db, fence, id, (tx) => tx.updateTable('rollouts').set({ status, message, finished_at: finished }).where('id', '=', id).execute());
}

export async function rolloutsOf(db: Store, service: string, environment?: string): Promise<Rollout[]> {
  let select = db.selectFrom('rollouts').selectAll().where('service', '=', service);
  if (environment !== undefined) select = select.where('environment', '=', environment);
  return (await select.orderBy('id', 'desc').execute()).map(toRollout);
}

/** The release an environment runs: that of its last rollout that succeeded. */
export async function currentRelease(db: Store, service: string, environment: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('rollouts')
    .select('release')
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('status', '=', 'succeeded')
    .where('kind', 'not in', OPERATION_KINDS)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.release;
}

/** Whether an environment ever ran the release to success. */
export async function hasRun(db: Store, service: string, environment: string, release: number): Promise<boolean> {
  const row = await db
    .selectFrom('rollouts')
    .select('id')
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('release', '=', release)
    .where('status', '=', 'succeeded')
    .where('kind', 'not in', OPERATION_KINDS)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** A rollout still open: running, or a canary waiting for its decision. */
export async function openRollout(db: Store, service: string, environment: string): Promise<Rollout | undefined> {
  const row = await db
    .selectFrom('rollouts')
    .selectAll()
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('status', 'in', ['running', 'canary'])
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toRollout(row);
}

export async function scaleOf(db: Store, service: string, environment: string): Promise<number | undefined> {
  const row = await db.selectFrom('scales').select('replicas').where('service', '=', service).where('environment', '=', environment).executeTakeFirst();
  return row?.replicas;
}

export async function setScale(db: Store, service: string, environment: string, replicas: number): Promise<void> {
  await db
    .insertInto('scales')
    .values({ service, environment, replicas })
    .onConflict((oc) => oc.columns(['service', 'environment']).doUpdateSet((eb) => ({ replicas: eb.ref('excluded.replicas') })))
    .execute();
}

export async function frontDoorPort(db: Store, service: string, environment: string): Promise<{ address: string; port: number } | undefined> {
  return db.selectFrom('front_doors').select(['address', 'port']).where('service', '=', service).where('environment', '=', environment).executeTakeFirst();
}

export async function saveFrontDoorPort(db: Store, service: string, environment: string, address: string, port: number): Promise<void> {
  await db
    .insertInto('front_doors')
    .values({ service, environment, address, port })
    .onConflict((oc) => oc.columns(['service', 'environment']).doUpdateSet((eb) => ({ address: eb.ref('excluded.address'), port: eb.ref('excluded.port') })))
    .execute();
}

export async function forgetFrontDoorPort(db: Store, service: string, environment: string): Promise<void> {
  await db.deleteFrom('front_doors').where('service', '=', service).where('environment', '=', environment).execute();
}

export async function allFrontDoors(db: Store): Promise<{ service: string; environment: string; address: string; port: number }[]> {
  return db.selectFrom('front_doors').select(['service', 'environment', 'address', 'port']).orderBy('environment').orderBy('service').execute();
}

/** Records the evidence of a rollout's decisions (replaces what was there). */
export async function setEvidence(db: Store, id: number, evidence: object, fence: Fence): Promise<void> {
  await fenced(db, fence, id, (tx) => tx.updateTable('rollouts').set({ evidence: JSON.stringify(evidence) }).where('id', '=', id).execute());
}

/** Every rollout still open (running or an open canary), newest first. */
export async function openRollouts(db: Store): Promise<Rollout[]> {
  return (await db.selectFrom('rollouts').selectAll().where('status', 'in', ['running', 'canary']).orderBy('id', 'desc').execute()).map(toRollout);
}

/** The row of a release whose number is decided. */
async function insertRelease(tx: Store, r: Omit<Release, 'createdAt'>, now: number): Promise<void> {
  await tx
      .insertInto('releases')
      .values({
        service: r.service,
        number: r.number,
        image: r.image,
        image_id: r.imageId,
        digest: r.digest,
        repository: r.repository,
        config: r.config,
        created_at: now,
        created_by: r.createdBy,
        config_version: r.configVersion ?? null,
      })
      .execute();
}
