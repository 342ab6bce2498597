/**
 * The store's tables as the typed query layer (Kysely) sees them: one
 * interface per table, column names as in the migrations. `Generated` marks
 * a column the database fills (an id, or a default) so an insert may leave it out.
 */
import type { Generated } from 'kysely';

export interface Schema {
  approvals: ApprovalsTable;
  audit: AuditTable;
  builds: BuildsTable;
  config_bundles: ConfigBundlesTable;
  config_versions: ConfigVersionsTable;
  deployments: DeploymentsTable;
  events: EventsTable;
  file_hashes: FileHashesTable;
  front_doors: FrontDoorsTable;
  host_health: HostHealthTable;
  host_states: HostStatesTable;
  warden_leases: WardenLeasesTable;
  ipam_allocations: IpamAllocationsTable;
  key_fingerprints: KeyFingerprintsTable;
  leader: LeaderTable;
  lease_tokens: LeaseTokensTable;
  leases: LeasesTable;
  pushes: PushesTable;
  refs: RefsTable;
  releases: ReleasesTable;
  rollouts: RolloutsTable;
  scales: ScalesTable;
  secrets: SecretsTable;
  servers: ServersTable;
  slots: SlotsTable;
  tokens: TokensTable;
}

export interface ApprovalsTable {
  id: Generated<number>;
  service: string;
  environment: string;
  request: string;
  requested_by: string;
  status: string;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  rollout: number | null;
}

export interface AuditTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  params: string;
  outcome: string;
  prev_hash: string;
  hash: string;
}

export interface BuildsTable {
  image: string;
  key: string;
  image_id: string;
  parent_id: string;
  inputs: string;
  built_at: number;
  duration_ms: number;
}

export interface ConfigVersionsTable {
  version: number;
  project: string;
  digest: string;
  files: string;
  actor: string;
  applied_at: number;
}

export interface DeploymentsTable {
  id: Generated<number>;
  service: string;
  environment: string;
  image: string;
  image_id: string;
  digest: string;
  repository: Generated<string>;
  replicas: number;
  network: string;
  status: string;
  message: Generated<string>;
  started_at: number;
  finished_at: number | null;
}

export interface EventsTable {
  seq: Generated<number>;
  at: number;
  type: string;
  rollout: number | null;
  data: string;
}

export interface FileHashesTable {
  path: string;
  size: number;
  mtime_ms: number;
  sha256: string;
}

export interface FrontDoorsTable {
  service: string;
  environment: string;
  address: string;
  port: number;
}

export interface HostHealthTable {
  name: string;
  state: string;
  since: number;
  reason: Generated<string>;
}

export interface WardenLeasesTable {
  host: string;
  renewed_at: number;
  expires_at: number;
}

export interface HostStatesTable {
  name: string;
  state: string;
  reason: Generated<string>;
  actor: string;
  since: number;
}

export interface IpamAllocationsTable {
  network: string;
  ip: string;
  mac: string;
  slot: string | null;
  incarnation: number;
  state: string;
  container_id: string | null;
  allocated_at: number;
  released_at: number | null;
}

export interface LeaseTokensTable {
  service: string;
  environment: string;
  last: number;
}

export interface LeasesTable {
  service: string;
  environment: string;
  rollout: number;
  holder: string;
  pid: number;
  hostname: string;
  token: number;
  acquired_at: number;
  expires_at: number;
  /** The leader epoch it was taken under (0: not by a leading server). */
  epoch: Generated<number>;
}

export interface LeaderTable {
  name: string;
  holder: string;
  address: string;
  epoch: number;
  since: number;
  expires_at: number;
}

export interface ServersTable {
  id: string;
  address: string;
  version: string;
  started_at: number;
  heartbeat_at: number;
}

export interface ConfigBundlesTable {
  version: number;
  bundle: Uint8Array;
}

export interface PushesTable {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  image: string;
  key: string;
  image_id: string;
  size: number;
  pushed_at: number;
}

export interface RefsTable {
  repository: string;
  digest: string;
  kind: string;
  environment: Generated<string>;
  service: Generated<string>;
  note: Generated<string>;
  created_at: number;
}

export interface ReleasesTable {
  service: string;
  number: number;
  image: string;
  image_id: string;
  digest: string;
  repository: Generated<string>;
  config: string;
  created_at: number;
  created_by: string;
  config_version: number | null;
}

export interface RolloutsTable {
  id: Generated<number>;
  service: string;
  environment: string;
  release: number;
  previous: number | null;
  kind: string;
  forced: Generated<number>;
  status: string;
  message: Generated<string>;
  actor: string;
  plan: string;
  done: Generated<number>;
  started_at: number;
  finished_at: number | null;
  evidence: Generated<string>;
}

export interface ScalesTable {
  service: string;
  environment: string;
  replicas: number;
}

export interface SecretsTable {
  service: string;
  environment: string;
  name: string;
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  updated_at: number;
  updated_by: string;
}

export interface SlotsTable {
  environment: string;
  slot: string;
  service: string;
  ordinal: number;
  host: string;
  network: string;
  host_ports: Generated<string>;
  updated_at: number;
}

export interface TokensTable {
  id: Generated<number>;
  name: string;
  role: string;
  envs: Generated<string>;
  hash: string;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
}

export interface KeyFingerprintsTable {
  name: string;
  fingerprint: string;
}
