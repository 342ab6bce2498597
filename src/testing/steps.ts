/**
 * For a suite whose tests build on each other (a deploy, then a redeploy of
 * it, …): `step` is `it`, and once a step failed every later one fails at once
 * naming it, instead of failing in a way that hides the cause.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';

export type Step = (title: string, body: () => Promise<void> | void) => void;

export function steps(): Step {
  let failed: string | undefined;
  return (title, body) =>
    it(title, async () => {
      if (failed !== undefined) assert.fail(`not run: it builds on the earlier step "${failed}", which failed`);
      try {
        await body();
      } catch (error) {
        failed = title;
        throw error;
      }
    });
}

/**
 * For a suite whose tests build on some of the earlier ones only: `needs(...)`
 * at the start of a step fails it at once naming the step it builds on when
 * that one failed or did not run.
 */
export function stepsWithNeeds(): { step: Step; needs: (...titles: string[]) => void } {
  const passed = new Set<string>();
  return {
    step: (title, body) =>
      it(title, async () => {
        await body();
        passed.add(title);
      }),
    needs: (...titles) => {
      for (const title of titles) assert.ok(passed.has(title), `this test builds on the state left by "${title}", which failed or did not run: see that failure first`);
    },
  };
}
