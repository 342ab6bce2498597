/**
 * Release's records: releases, rollouts with their journal, scale overrides and
 * front door ports. Every write of a rollout's journal carries the fence of the
 * lease it runs under (leases.ts) and is refused once another process holds it.
 */
import type { Db } from './db.js';
import { fenced, type Fence } from './leases.js';

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

export type RolloutKind = 'release' | 'promote' | 'rollback' | 'canary' | 'scale' | 'deploy' | 'move' | 'reconcile';
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

interface ReleaseRow {
  service: string;
  number: number;
  image: string;
  image_id: string;
  digest: string;
  repository: string;
  config: string;
  created_at: number;
  created_by: string;
  config_version: number | null;
}

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
export function createRelease(db: Db, r: Omit<Release, 'number' | 'createdAt'>, now = Date.now()): Release {
  return db.transaction(() => {
    const last = db.prepare('SELECT MAX(number) AS n FROM releases WHERE service = ?').get(r.service) as { n: number | null };
    const number = (last.n ?? 0) + 1;
    db.prepare(
      'INSERT INTO releases (service, number, image, image_id, digest, repository, config, created_at, created_by, config_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(r.service, number, r.image, r.imageId, r.digest, r.repository, r.config, now, r.createdBy, r.configVersion ?? null);
    return { ...r, number, createdAt: now };
  }).immediate();
}

export function releaseOf(db: Db, service: string, number: number): Release | undefined {
  const row = db.prepare('SELECT * FROM releases WHERE service = ? AND number = ?').get(service, number) as ReleaseRow | undefined;
  return row && toRelease(row);
}

export function releasesOf(db: Db, service: string): Release[] {
  return (db.prepare('SELECT * FROM releases WHERE service = ? ORDER BY number DESC').all(service) as ReleaseRow[]).map(toRelease);
}

interface RolloutRow {
  id: number;
  service: string;
  environment: string;
  release: number;
  previous: number | null;
  kind: RolloutKind;
  forced: number;
  status: RolloutStatus;
  message: string;
  actor: string;
  plan: string;
  done: number;
  started_at: number;
  finished_at: number | null;
  evidence: string;
}

const toRollout = (r: RolloutRow): Rollout => ({
  id: r.id,
  service: r.service,
  environment: r.environment,
  release: r.release,
  previous: r.previous,
  kind: r.kind,
  forced: r.forced === 1,
  status: r.status,
  message: r.message,
  actor: r.actor,
  plan: r.plan,
  done: r.done,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  evidence: r.evidence,
});

/** Records a rollout, and names it in the lease of its service × environment (one transaction: a rollout is never left unnamed). */
export function startRollout(db: Db, r: Pick<Rollout, 'service' | 'environment' | 'release' | 'previous' | 'kind' | 'forced' | 'actor' | 'plan'>, fence: Fence, now = Date.now()): number {
  return fenced(db, fence, 0, () => {
    const result = db
      .prepare(
        `INSERT INTO rollouts (service, environment, release, previous, kind, forced, status, actor, plan, done, started_at)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, 0, ?)`,
      )
      .run(r.service, r.environment, r.release, r.previous, r.kind, r.forced ? 1 : 0, r.actor, r.plan, now);
    const id = Number(result.lastInsertRowid);
    db.prepare('UPDATE leases SET rollout = ? WHERE service = ? AND environment = ? AND token = ?').run(id, fence.service, fence.environment, fence.token);
    return id;
  });
}

export function rolloutById(db: Db, id: number): Rollout | undefined {
  const row = db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
  return row && toRollout(row);
}

/** Journals progress: `done` steps of the plan are complete. */
export function markDone(db: Db, id: number, done: number, fence: Fence): void {
  fenced(db, fence, id, () => db.prepare('UPDATE rollouts SET done = ? WHERE id = ?').run(done, id));
}

export function replacePlan(db: Db, id: number, plan: string, fence: Fence, done = 0): void {
  fenced(db, fence, id, () => db.prepare('UPDATE rollouts SET plan = ?, done = ? WHERE id = ?').run(plan, done, id));
}

export function setRolloutStatus(db: Db, id: number, status: RolloutStatus, fence: Fence, message = '', now = Date.now()): void {
  const finished = status === 'running' || status === 'canary' ? null : now;
  fenced(db, fence, id, () => db.prepare('UPDATE rollouts SET status = ?, message = ?, finished_at = ? WHERE id = ?').run(status, message, finished, id));
}

export function rolloutsOf(db: Db, service: string, environment?: string): Rollout[] {
  const rows =
    environment === undefined
      ? db.prepare('SELECT * FROM rollouts WHERE service = ? ORDER BY id DESC').all(service)
      : db.prepare('SELECT * FROM rollouts WHERE service = ? AND environment = ? ORDER BY id DESC').all(service, environment);
  return (rows as RolloutRow[]).map(toRollout);
}

/** The release an environment runs: that of its last rollout that succeeded. */
export function currentRelease(db: Db, service: string, environment: string): number | undefined {
  const row = db
    .prepare("SELECT release FROM rollouts WHERE service = ? AND environment = ? AND status = 'succeeded' ORDER BY id DESC LIMIT 1")
    .get(service, environment) as { release: number } | undefined;
  return row?.release;
}

/** Whether an environment ever ran the release to success. */
export function hasRun(db: Db, service: string, environment: string, release: number): boolean {
  return db.prepare("SELECT 1 FROM rollouts WHERE service = ? AND environment = ? AND release = ? AND status = 'succeeded'").get(service, environment, release) !== undefined;
}

/** A rollout still open: running, or a canary waiting for its decision. */
export function openRollout(db: Db, service: string, environment: string): Rollout | undefined {
  const row = db
    .prepare("SELECT * FROM rollouts WHERE service = ? AND environment = ? AND status IN ('running', 'canary') ORDER BY id DESC LIMIT 1")
    .get(service, environment) as RolloutRow | undefined;
  return row && toRollout(row);
}

export function scaleOf(db: Db, service: string, environment: string): number | undefined {
  return (db.prepare('SELECT replicas FROM scales WHERE service = ? AND environment = ?').get(service, environment) as { replicas: number } | undefined)?.replicas;
}

export function setScale(db: Db, service: string, environment: string, replicas: number): void {
  db.prepare('INSERT INTO scales (service, environment, replicas) VALUES (?, ?, ?) ON CONFLICT (service, environment) DO UPDATE SET replicas = excluded.replicas').run(
    service,
    environment,
    replicas,
  );
}

export function frontDoorPort(db: Db, service: string, environment: string): { address: string; port: number } | undefined {
  return db.prepare('SELECT address, port FROM front_doors WHERE service = ? AND environment = ?').get(service, environment) as { address: string; port: number } | undefined;
}

export function saveFrontDoorPort(db: Db, service: string, environment: string, address: string, port: number): void {
  db.prepare('INSERT INTO front_doors (service, environment, address, port) VALUES (?, ?, ?, ?) ON CONFLICT (service, environment) DO UPDATE SET address = excluded.address, port = excluded.port').run(
    service,
    environment,
    address,
    port,
  );
}

export function forgetFrontDoorPort(db: Db, service: string, environment: string): void {
  db.prepare('DELETE FROM front_doors WHERE service = ? AND environment = ?').run(service, environment);
}

export function allFrontDoors(db: Db): { service: string; environment: string; address: string; port: number }[] {
  return db.prepare('SELECT service, environment, address, port FROM front_doors ORDER BY environment, service').all() as { service: string; environment: string; address: string; port: number }[];
}

/** Records the evidence of a rollout's decisions (replaces what was there). */
export function setEvidence(db: Db, id: number, evidence: object, fence: Fence): void {
  fenced(db, fence, id, () => db.prepare('UPDATE rollouts SET evidence = ? WHERE id = ?').run(JSON.stringify(evidence), id));
}

/** Every rollout still open (running or an open canary), newest first. */
export function openRollouts(db: Db): Rollout[] {
  return (db.prepare("SELECT * FROM rollouts WHERE status IN ('running', 'canary') ORDER BY id DESC").all() as RolloutRow[]).map(toRollout);
}
