/** Test helper: every problem of a project berth.yaml loading rejects, as "message" and "fix". */
import assert from 'node:assert/strict';
import { BerthError, BerthErrors } from '../errors.js';
import { loadProject } from './project.js';

export const loadForTest = (dir: string) => loadProject(dir, {}, dir);

export function problemsOf(dir: string): { message: string; fix: string | undefined }[] {
  try {
    loadForTest(dir);
  } catch (error) {
    assert.ok(error instanceof BerthError, String(error));
    return (error instanceof BerthErrors ? error.problems : [error]).map((p) => ({ message: p.message, fix: p.fix }));
  }
  assert.fail('expected the project to be rejected');
}
