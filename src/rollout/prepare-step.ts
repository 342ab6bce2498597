/**
 * The steps that prepare a rollout before it changes any instance: each is journaled like
 * the instance steps (rollout-plan.ts) and safe to run again after a kill.
 */
import type { Release } from '../store/releases.js';

/** A release a rollout records: its number reserved when the rollout was planned (never given to another release). */
export type PlannedRelease = Omit<Release, 'createdAt'>;

/** A container under a name from before names carried the project, and the name it gets. */
export interface Rename {
  host: string;
  id: string;
  from: string;
  to: string;
}

export type PrepareStep =
  /** The environment's Docker network created on the hosts that lack it. */
  | { op: 'networks'; hosts: string[] }
  /** Containers under old names renamed to today's (`<project>.<slot>`), so the rollout replaces them like any outdated instance. */
  | { op: 'adopt-names'; renames: Rename[] }
  /** Addresses of the flat network whose slot has no container go into quarantine (those the plan saw; the step reconciles what is stale then). */
  | { op: 'addresses'; network: string; stale: string[] }
  /** The new release recorded under its reserved number (once: a resumed step finds it recorded). */
  | { op: 'record-release'; release: PlannedRelease }
  /** The release's image pulled by digest on the hosts that launch instances and lack it. */
  | { op: 'pull'; hosts: string[] }
  /** The replica count recorded (`berth scale`; a scale's rollback sets back the count it started from). */
  | { op: 'scale'; replicas: number };

export const PREPARE_OPS: ReadonlySet<string> = new Set<PrepareStep['op']>(['networks', 'adopt-names', 'addresses', 'record-release', 'pull', 'scale']);
