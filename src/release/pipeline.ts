/** The promotion pipeline's rules, as plain data: which stages a release must have run before it may enter an environment. */
import { conflict, invalid } from '../errors.js';

export interface PromotionCheck {
  /** Earlier stages that have not run the release. */
  missing: string[];
}

/** Stages before `target` in the pipeline that have not run the release. */
export function missingStages(pipeline: readonly string[], target: string, hasRun: (environment: string) => boolean): string[] {
  const index = pipeline.indexOf(target);
  if (index < 0) return [];
  return pipeline.slice(0, index).filter((stage) => !hasRun(stage));
}

/** Refuses a promotion past a stage that has not run the release, unless forced; says which stages are missing. */
export function checkPromotion(pipeline: readonly string[], service: string, release: number, target: string, hasRun: (environment: string) => boolean, force: boolean): PromotionCheck {
  const missing = missingStages(pipeline, target, hasRun);
  if (missing.length > 0 && !force) {
    throw conflict(`release ${release} of ${service} has not run in ${missing.join(', ')}, which come${missing.length === 1 ? 's' : ''} before ${target} in the pipeline (${pipeline.join(' → ')})`, {
      fix: `promote it through ${missing[0]} first (berth promote ${service} --to ${missing[0]}), or pass --force to skip (recorded in the history)`,
    });
  }
  return { missing };
}

/** "10%": a whole percentage strictly between 0 and 100, with its % sign ("10" could mean 10% or 0.1 of a share). */
export function parseShare(text: string): number {
  const match = /^(\d+)%$/.exec(text.trim());
  const percent = match ? Number(match[1]) : NaN;
  if (!(Number.isInteger(percent) && percent > 0 && percent < 100)) {
    throw invalid(`--canary takes a whole percentage between 0 and 100 (exclusive, 1% to 99%) with its % sign, got "${text}"`, { fix: 'e.g. --canary 10%' });
  }
  return percent / 100;
}
