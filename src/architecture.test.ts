/**
 * The import rules of .dependency-cruiser.cjs (no cycle, the layers, pure
 * planners, test code only in tests) checked on the TypeScript sources.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { cruise, type ICruiseOptions, type IViolation } from 'dependency-cruiser';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const rules = createRequire(import.meta.url)(join(repo, '.dependency-cruiser.cjs')) as { forbidden: NonNullable<ICruiseOptions['ruleSet']>['forbidden']; options: ICruiseOptions };

async function violations(baseDir: string, folders: string[]): Promise<{ lines: string[]; cruised: number }> {
  const { output } = await cruise(folders, { ...rules.options, baseDir, validate: true, ruleSet: { forbidden: rules.forbidden } });
  if (typeof output === 'string') throw new Error('dependency-cruiser answered text, not a result');
  return { lines: output.summary.violations.map(describe), cruised: output.summary.totalCruised };
}

function describe(violation: IViolation): string {
  if (violation.cycle?.length) return `${violation.rule.name}: ${violation.from} → ${violation.cycle.map((step) => step.name).join(' → ')}`;
  return `${violation.rule.name}: ${violation.from} → ${violation.to}`;
}

test('the sources have no import cycle and no import against the layers', async () => {
  const { lines, cruised } = await violations(repo, ['src', 'bench']);
  assert.ok(cruised > 200, `only ${cruised} modules cruised: the check did not see the sources`);
  assert.deepEqual(lines, [], `imports against .dependency-cruiser.cjs (fix the import, or change the rule there with a one-line why):\n${lines.join('\n')}`);
});

test('the rules catch a cycle, an import against the layers, an impure planner and product code importing test code', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-imports-'));
  try {
    const files: Record<string, string> = {
      'src/errors.ts': 'export const e = 1;\n',
      'src/store/records.ts': "import { client } from '../engine/client.js';\nexport const records = client;\n",
      'src/engine/client.ts': "import { records } from '../store/records.js';\nexport const client = records;\n",
      'src/release/deploy-plan.ts': "import { client } from '../engine/client.js';\nexport const plan = client;\n",
      'src/release/run.ts': "import { lab } from '../testing/lab.js';\nimport { e } from '../errors.js';\nexport const run = lab + e;\n",
      'src/testing/lab.ts': 'export const lab = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const { lines } = await violations(root, ['src']);
    assert.deepEqual(lines.sort(), [
      'layer:engine: src/engine/client.ts → src/store/records.ts',
      'layer:release: src/release/run.ts → src/testing/lab.ts',
      'layer:store: src/store/records.ts → src/engine/client.ts',
      'no-cycle: src/engine/client.ts → src/store/records.ts → src/engine/client.ts',
      'planner-pure: src/release/deploy-plan.ts → src/engine/client.ts',
      'test-code-only-from-tests: src/release/run.ts → src/testing/lab.ts',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
