/**
 * Retention: which builds are kept, and why. Pure: builds and the current key
 * of each image in, one decision per build out.
 */
import type { RetentionSettings } from '../config/model.js';

export interface BuildInfo {
  image: string;
  key: string;
  builtAt: number;
}

export interface RetentionDecision extends BuildInfo {
  keep: boolean;
  /** Why it is kept; empty when it may go. */
  reasons: string[];
}

export interface RetentionInput {
  builds: readonly BuildInfo[];
  /** image → key of its current build (what the hierarchy is now). */
  current: ReadonlyMap<string, string>;
  settings: RetentionSettings;
  now: number;
}

export function applyRetention(input: RetentionInput): RetentionDecision[] {
  const { settings, now } = input;
  const byImage = new Map<string, BuildInfo[]>();
  for (const build of input.builds) byImage.set(build.image, [...(byImage.get(build.image) ?? []), build]);
  const decisions: RetentionDecision[] = [];
  for (const [image, builds] of [...byImage.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const newestFirst = [...builds].sort((a, b) => b.builtAt - a.builtAt || a.key.localeCompare(b.key));
    newestFirst.forEach((build, rank) => {
      const reasons: string[] = [];
      if (input.current.get(image) === build.key) reasons.push('current build');
      if (rank < settings.keepLast) reasons.push(`one of the ${settings.keepLast} most recent builds of ${image}`);
      if (now - build.builtAt < settings.keepYoungerThanMs) reasons.push(`younger than ${formatAge(settings.keepYoungerThanMs)}`);
      decisions.push({ ...build, keep: reasons.length > 0, reasons });
    });
  }
  return decisions;
}

/** 1209600000 → "14d", 5400000 → "90m". */
export function formatAge(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
