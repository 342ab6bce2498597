/** The state's modes: what is reported as readable by others, by the function and by `berth doctor`. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../cli/main.js';
import { widerThanPrivate } from './state-modes.js';

describe('the modes of a state folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-state-modes-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the folder and each private file others may read, and nothing else', () => {
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    for (const [name, mode] of [['berth.db', 0o600], ['berth.db-wal', 0o644], ['secret.key', 0o640], ['audit.head', 0o600], ['notes.txt', 0o644]] as const) {
      writeFileSync(join(state, name), '');
      chmodSync(join(state, name), mode);
    }
    assert.deepEqual(widerThanPrivate(state).sort(), ['berth.db-wal 0644', 'secret.key 0640']);
    chmodSync(state, 0o755);
    assert.deepEqual(widerThanPrivate(state).sort(), ['berth.db-wal 0644', 'secret.key 0640', `${state} 0755`].sort());
    assert.deepEqual(widerThanPrivate(join(dir, 'none')), []);
  });

  it('berth doctor warns about it with the fix, outside a project too (BERTH_STATE_DIR)', async () => {
    const state = join(dir, 'server-state');
    mkdirSync(state, { mode: 0o750 });
    chmodSync(state, 0o750);
    const out: string[] = [];
    await main(['doctor', '--json'], { isTTY: false, color: false, out: (t) => out.push(t), err: () => {} }, { HOME: dir, BERTH_STATE_DIR: state, DOCKER_HOST: `unix://${join(dir, 'no-engine.sock')}` }, dir);
    const checks = (JSON.parse(out.join('\n')) as { checks: { name: string; status: string; detail: string; fix?: string }[] }).checks;
    const check = checks.find((c) => c.name === 'state permissions');
    assert.deepEqual(check && { status: check.status, fix: check.fix }, { status: 'warn', fix: `chmod -R go-rwx ${state}` });
    assert.match(check!.detail, new RegExp(`readable by other users of this machine .*: ${state} 0750$`));
  });
});
