import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { findProgram, type Program } from './program.js';

describe('findProgram', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-program-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const program = (name: string): Program => ({ name, what: 'the test program', debianPackage: 'berth-test-package' });
  const dir = (name: string, files: Record<string, number>) => {
    const path = join(root, name);
    mkdirSync(path, { recursive: true });
    for (const [file, mode] of Object.entries(files)) writeFileSync(join(path, file), '#!/bin/sh\n', { mode });
    return path;
  };

  it('finds an executable on the PATH, skipping a file of that name that is not executable', () => {
    const plain = dir('plain', { 'berth-tool': 0o644 });
    const bin = dir('bin', { 'berth-tool': 0o755 });
    assert.equal(findProgram(program('berth-tool'), [plain, '', bin].join(delimiter)), join(bin, 'berth-tool'));
  });

  it('looks in the sbin and bin folders a PATH may lack', () => {
    assert.equal(findProgram(program('env'), ''), '/usr/bin/env');
  });

  it('names the program and the Debian package when it is nowhere', () => {
    const empty = dir('empty', {});
    assert.throws(
      () => findProgram(program('berth-no-such-program'), empty),
      (e: unknown) => {
        assert.ok(isBerthError(e));
        assert.equal(e.kind, 'not-found');
        assert.equal(e.message, 'the test program berth-no-such-program is not installed');
        assert.equal(e.fix, 'install it: apt-get install berth-test-package (npm run setup does it)');
        return true;
      },
    );
  });
});
