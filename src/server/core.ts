/**
 * What the server holds: its store, the configuration `berth apply` uploaded
 * (loaded with the same loader as the CLI's, from the files of its version),
 * the event bus and the rollouts it runs. Routes call the same core functions
 * as the CLI with a RunContext from here, whose actor is the token's name.
 */
import { auditAction, type AuditEntry, type AuditInput } from '../access/audit.js';
import { checkAuditHeadWritable, readAuditHead, writeAuditHead, type AuditHead } from '../access/audit-head.js';
import { ensureVersionDir, versionDir as configDir } from '../apply/versions.js';
import type { HostSpec, Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { connectEngine, connectHost, type Engine } from '../engine/client.js';
import { isBerthError, notFound } from '../errors.js';
import type { Store } from '../store/db.js';
import type { LeaderFence } from '../store/leases.js';
import type { Leadership } from '../leader/leadership.js';
import { latestConfig } from '../store/configs.js';
import { EventBus } from './events.js';
import { RolloutJobs } from './jobs.js';

export interface ServerCoreOptions {
  /** How a host's engine is reached: connectHost, but for a benchmark's stand-in engines (src/testing/fake-engine.ts's FakeEngine). */
  connect?: (spec: HostSpec) => Engine;
  /** Folders the operator allowed configurations to read besides their own files (`berth server --allow-read`). */
  allowRead?: readonly string[];
}

export class ServerCore {
  readonly events: EventBus;
  readonly jobs: RolloutJobs;
  readonly engine: Engine;
  readonly #connect: (spec: HostSpec) => Engine;
  /** What an applied configuration may read on this machine besides its own files (config/readable-files.ts). */
  readonly allowRead: readonly string[];
  /** The applied configuration of one version, and its hosts' engine clients (kept: a request must not open new connections to every host). */
  #loaded: { version: number; project: Project; hosts: Hosts } | undefined;
  /**
   * Its part in the leader lease, when servers share the store: rollouts run under its current
   * term's fence, and a follower's runs under one that never acts (refused before any write).
   */
  leadership: Leadership | undefined = undefined;
  /** How a follower reaches the leader over https: the CAs it trusts (its own certificate, BERTH_SERVER_CA). */
  leaderCa: Buffer[] | undefined = undefined;
  /** The audit head this process last recorded (read from the file once: after that this process is the only writer). */
  #head: { read: false } | { read: true; head: AuditHead | undefined } = { read: false };

  constructor(
    readonly stateDir: string,
    readonly db: Store,
    readonly env: NodeJS.ProcessEnv,
    options: ServerCoreOptions = {},
  ) {
    this.#connect = options.connect ?? connectHost;
    this.allowRead = options.allowRead ?? [];
    this.events = new EventBus(db);
    this.jobs = new RolloutJobs(this.events);
    this.engine = connectEngine(env);
  }

  /** Appends to the audit log (and publishes it), then records the log's new head beside the store (unavailable when it cannot). */
  async audit(input: AuditInput): Promise<AuditEntry> {
    const entry = await auditAction(this.db, this.events, input);
    const head = this.#currentHead();
    if (entry.seq > (head?.seq ?? 0)) {
      writeAuditHead(this.stateDir, entry);
      this.#head = { read: true, head: { seq: entry.seq, hash: entry.hash } };
    }
    return entry;
  }

  /** Before a mutation: unavailable, naming the file, when the audit head could not be recorded (the mutation is refused rather than made unrecorded). */
  checkAuditHead(): void {
    checkAuditHeadWritable(this.stateDir, this.#currentHead());
  }

  #currentHead(): AuditHead | undefined {
    if (!this.#head.read) this.#head = { read: true, head: readAuditHead(this.stateDir) };
    return this.#head.head;
  }

  /** The process environment the loader and the core functions see: the server's state directory, the given actor. */
  envFor(actor: string): NodeJS.ProcessEnv {
    return { ...this.env, BERTH_STATE_DIR: this.stateDir, BERTH_ACTOR: actor };
  }

  /** The applied configuration, loaded once per version. */
  async project(): Promise<Project> {
    const latest = await latestConfig(this.db);
    if (!latest) throw notFound('no configuration has been applied to this server yet', { fix: 'upload berth.yaml with: berth apply' });
    if (this.#loaded?.version !== latest.version) {
      await ensureVersionDir(this.db, this.stateDir, latest.version);
      const dir = configDir(this.stateDir, latest.version);
      const project = loadProject(dir, this.envFor('server'), dir, { readable: { allowed: this.allowRead, stateDir: this.stateDir } });
      this.#loaded = { version: latest.version, project, hosts: new Hosts(project, this.engine, this.#connect) };
    }
    return this.#loaded.project;
  }

  /** The environments of the applied configuration; [] when none is applied. */
  async environmentNames(): Promise<string[]> {
    try {
      return [...(await this.project()).environments.keys()];
    } catch (error) {
      if (isBerthError(error) && error.kind === 'not-found') return [];
      throw error;
    }
  }

  /** The version project() last loaded (call project() first). */
  loadedVersion(): number {
    return this.#loaded!.version;
  }

  async run(actor: string): Promise<RunContext> {
    const project = await this.project();
    const { hosts, version } = this.#loaded!;
    const leader = this.leaderFence();
    return { project, db: this.db, hosts, env: this.envFor(actor), configVersion: version, ...(leader ? { leader } : {}) };
  }

  /** The fence of this server's current term; one that never acts while it follows; none for a server without a leader lease. */
  leaderFence(): LeaderFence | undefined {
    if (!this.leadership) return undefined;
    return this.leadership.fence() ?? FOLLOWING;
  }
}

const FOLLOWING: LeaderFence = { epoch: 0, acting: () => false };
