/** Run's records: deployments and their outcomes, and each slot's placement. */
import type { Db } from './db.js';

export type DeploymentStatus = 'running' | 'succeeded' | 'failed';

export interface Deployment {
  id: number;
  service: string;
  environment: string;
  image: string;
  imageId: string;
  /** The registry's manifest digest when the build was pushed, else the image ID. */
  digest: string;
  /** The registry repository the digest lives in; '' when it was never pushed. */
  repository: string;
  replicas: number;
  network: string;
  status: DeploymentStatus;
  message: string;
  startedAt: number;
  finishedAt: number | null;
}

export interface SlotRecord {
  environment: string;
  slot: string;
  service: string;
  ordinal: number;
  host: string;
  network: string;
  /** "8080/tcp" → the host port this slot keeps (nat networks). */
  hostPorts: Record<string, number>;
}

interface DeploymentRow {
  id: number;
  service: string;
  environment: string;
  image: string;
  image_id: string;
  digest: string;
  repository: string;
  replicas: number;
  network: string;
  status: DeploymentStatus;
  message: string;
  started_at: number;
  finished_at: number | null;
}

const toDeployment = (r: DeploymentRow): Deployment => ({
  id: r.id,
  service: r.service,
  environment: r.environment,
  image: r.image,
  imageId: r.image_id,
  digest: r.digest,
  repository: r.repository,
  replicas: r.replicas,
  network: r.network,
  status: r.status,
  message: r.message,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export function startDeployment(db: Db, d: Omit<Deployment, 'id' | 'status' | 'message' | 'startedAt' | 'finishedAt'>, now = Date.now()): number {
  const result = db
    .prepare(
      `INSERT INTO deployments (service, environment, image, image_id, digest, repository, replicas, network, status, started_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
    )
    .run(d.service, d.environment, d.image, d.imageId, d.digest, d.repository, d.replicas, d.network, now);
  return Number(result.lastInsertRowid);
}

export function finishDeployment(db: Db, id: number, status: Exclude<DeploymentStatus, 'running'>, message = '', now = Date.now()): void {
  db.prepare('UPDATE deployments SET status = ?, message = ?, finished_at = ? WHERE id = ?').run(status, message, now, id);
}

/** The last deployment that succeeded: what should run. */
export function currentDeployment(db: Db, service: string, environment: string): Deployment | undefined {
  const row = db
    .prepare("SELECT * FROM deployments WHERE service = ? AND environment = ? AND status = 'succeeded' ORDER BY id DESC LIMIT 1")
    .get(service, environment) as DeploymentRow | undefined;
  return row && toDeployment(row);
}

export function deploymentsOf(db: Db, service: string, environment?: string): Deployment[] {
  const rows =
    environment === undefined
      ? db.prepare('SELECT * FROM deployments WHERE service = ? ORDER BY id DESC').all(service)
      : db.prepare('SELECT * FROM deployments WHERE service = ? AND environment = ? ORDER BY id DESC').all(service, environment);
  return (rows as DeploymentRow[]).map(toDeployment);
}

interface SlotRow {
  environment: string;
  slot: string;
  service: string;
  ordinal: number;
  host: string;
  network: string;
  host_ports: string;
}

const toSlot = (r: SlotRow): SlotRecord => ({
  environment: r.environment,
  slot: r.slot,
  service: r.service,
  ordinal: r.ordinal,
  host: r.host,
  network: r.network,
  hostPorts: JSON.parse(r.host_ports) as Record<string, number>,
});

export function slotsOf(db: Db, service: string, environment: string): SlotRecord[] {
  return (db.prepare('SELECT * FROM slots WHERE service = ? AND environment = ? ORDER BY ordinal').all(service, environment) as SlotRow[]).map(toSlot);
}

export function saveSlot(db: Db, s: SlotRecord, now = Date.now()): void {
  db.prepare(
    `INSERT INTO slots (environment, slot, service, ordinal, host, network, host_ports, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (environment, slot) DO UPDATE SET service = excluded.service, ordinal = excluded.ordinal, host = excluded.host,
       network = excluded.network, host_ports = excluded.host_ports, updated_at = excluded.updated_at`,
  ).run(s.environment, s.slot, s.service, s.ordinal, s.host, s.network, JSON.stringify(s.hostPorts), now);
}

export function forgetSlot(db: Db, environment: string, slot: string): void {
  db.prepare('DELETE FROM slots WHERE environment = ? AND slot = ?').run(environment, slot);
}

/** Every slot recorded, optionally of one environment (what should have a container). */
export function allSlots(db: Db, environment?: string): SlotRecord[] {
  const rows = environment === undefined ? db.prepare('SELECT * FROM slots ORDER BY environment, ordinal').all() : db.prepare('SELECT * FROM slots WHERE environment = ? ORDER BY ordinal').all(environment);
  return (rows as SlotRow[]).map(toSlot);
}
