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
