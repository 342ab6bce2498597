/** Test helper: every problem of a project berth.yaml loading rejects, as "message" and "fix". */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

/**
 * A throwaway project folder: each file's content (a number after it sets the mode).
 * `cleanup` removes every folder made so far (call it in afterEach).
 */
export function tempProjects(prefix: string): { make(files: Record<string, string | [string, number]>): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    make(files) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      for (const [relative, value] of Object.entries(files)) {
        const [content, mode] = typeof value === 'string' ? [value, 0o644] : value;
        const file = join(dir, relative);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content);
        chmodSync(file, mode);
      }
      return dir;
    },
    cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
