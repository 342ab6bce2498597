/**
 * What garbage collection deletes, computed from Berth's reference database
 * (pushes, retention, refs), never from tags alone. Pure: plain data in, a plan
 * with a reason for every manifest out.
 *
 * Distribution deletes manifests by digest, and doing so removes every tag
 * pointing at that digest: a manifest is deleted only when no tag outside the
 * expired builds' own tags points at it.
 */
import type { RetentionDecision } from './retention.js';

export interface PushedManifest {
  repository: string;
  tag: string;
  digest: string;
  image: string;
  key: string;
}

export interface ProtectingRef {
  repository: string;
  digest: string;
  kind: string;
  environment: string;
  service: string;
}

export interface GcPlanInput {
  pushes: readonly PushedManifest[];
  retention: readonly RetentionDecision[];
  refs: readonly ProtectingRef[];
  /** What the registry holds now: "repository@digest" of every manifest Berth knows that still exists. */
  present: ReadonlySet<string>;
  /** repository → tag → digest, for the repositories above. */
  tags: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export interface ManifestRef {
  repository: string;
  digest: string;
}

export interface PlannedDeletion extends ManifestRef {
  /** The expired builds' tags that go with it. */
  tags: string[];
  builds: { image: string; key: string }[];
  reason: string;
}

export interface KeptManifest extends ManifestRef {
  reasons: string[];
}

export interface GcPlan {
  delete: PlannedDeletion[];
  /** Expired, but another tag still points at the digest. */
  skipped: (ManifestRef & { reason: string })[];
  /** Every manifest that must survive, and why; `present` says whether the registry has it. */
  protected: (KeptManifest & { present: boolean })[];
  /** Push records of manifests no longer in the registry (to forget). */
  gone: ManifestRef[];
}

export const manifestId = (m: ManifestRef) => `${m.repository}@${m.digest}`;

export function planGc(input: GcPlanInput): GcPlan {
  const decisions = new Map(input.retention.map((d) => [`${d.image}\0${d.key}`, d]));
  const groups = new Map<string, { ref: ManifestRef; pushes: PushedManifest[] }>();
  for (const push of input.pushes) {
    const id = manifestId(push);
    const group = groups.get(id) ?? { ref: { repository: push.repository, digest: push.digest }, pushes: [] };
    group.pushes.push(push);
    groups.set(id, group);
  }

  const protectedById = new Map<string, KeptManifest>();
  const keep = (ref: ManifestRef, reason: string) => {
    const id = manifestId(ref);
    const kept = protectedById.get(id) ?? { repository: ref.repository, digest: ref.digest, reasons: [] };
    if (!kept.reasons.includes(reason)) kept.reasons.push(reason);
    protectedById.set(id, kept);
  };
  for (const ref of input.refs) keep(ref, describeRef(ref));

  const plan: GcPlan = { delete: [], skipped: [], protected: [], gone: [] };
  for (const [id, { ref, pushes }] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    for (const push of pushes) {
      const decision = decisions.get(`${push.image}\0${push.key}`);
      // A push whose build Berth has no record of is kept: nothing says it may go.
      if (!decision) keep(ref, `build ${push.image}:${push.key.slice(0, 12)} has no build record`);
      else for (const reason of decision.reasons) keep(ref, `${push.image}:${push.key.slice(0, 12)} ${reason}`);
    }
    if (protectedById.has(id)) continue;
    if (!input.present.has(id)) {
      plan.gone.push(ref);
      continue;
    }
    const ownTags = new Set(pushes.map((p) => p.tag));
    const otherTags = [...(input.tags.get(ref.repository) ?? new Map<string, string>()).entries()]
      .filter(([tag, digest]) => digest === ref.digest && !ownTags.has(tag))
      .map(([tag]) => tag);
    if (otherTags.length > 0) {
      plan.skipped.push({ ...ref, reason: `tag ${otherTags.map((t) => `"${t}"`).join(', ')} still points at it; deleting by digest would remove ${otherTags.length > 1 ? 'those tags' : 'that tag'} too` });
      continue;
    }
    const builds = unique(pushes.map((p) => ({ image: p.image, key: p.key })));
    plan.delete.push({
      ...ref,
      tags: [...ownTags].sort(),
      builds,
      reason: `expired: ${builds.map((b) => `${b.image}:${b.key.slice(0, 12)}`).join(', ')} is neither current, recent nor young, and no deployment or rollback refers to it`,
    });
  }
  plan.protected = [...protectedById.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, kept]) => ({ ...kept, present: input.present.has(id) }));
  return plan;
}

function describeRef(ref: ProtectingRef): string {
  const where = [ref.service && `service ${ref.service}`, ref.environment && `in ${ref.environment}`].filter(Boolean).join(' ');
  return `${ref.kind}${where ? ` (${where})` : ''}`;
}

function unique(builds: { image: string; key: string }[]) {
  const seen = new Set<string>();
  return builds.filter((b) => {
    const id = `${b.image}\0${b.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** What `docker-registry garbage-collect` printed: marked manifests and blobs, and the blobs it deletes (or would). */
export interface RegistryGcOutput {
  marked: Set<string>;
  eligible: Set<string>;
  summary: { marked: number; blobs: number; manifests: number } | null;
}

export function parseRegistryGc(text: string): RegistryGcOutput {
  const out: RegistryGcOutput = { marked: new Set(), eligible: new Set(), summary: null };
  for (const line of text.split('\n')) {
    const mark = /: marking (?:manifest|blob) (sha256:[0-9a-f]{64})/.exec(line);
    if (mark) out.marked.add(mark[1]!);
    const eligible = /^blob eligible for deletion: (sha256:[0-9a-f]{64})/.exec(line.trim());
    if (eligible) out.eligible.add(eligible[1]!);
    const summary = /(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion/.exec(line);
    if (summary) out.summary = { marked: Number(summary[1]), blobs: Number(summary[2]), manifests: Number(summary[3]) };
  }
  return out;
}

/**
 * Why the registry's collection must not run: a protected manifest it did not
 * mark, or a blob of a protected manifest it would delete. Empty when safe.
 */
export function gcViolations(protectedManifests: ReadonlyMap<string, { id: string; blobs: readonly string[] }>, output: RegistryGcOutput): string[] {
  const problems: string[] = [];
  for (const [digest, m] of protectedManifests) {
    if (output.eligible.has(digest) || !output.marked.has(digest)) problems.push(`protected manifest ${m.id} would be deleted`);
    for (const blob of m.blobs) if (output.eligible.has(blob)) problems.push(`blob ${blob} of protected manifest ${m.id} would be deleted`);
  }
  return problems;
}
