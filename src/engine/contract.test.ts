/** The engine contract against the FakeEngine: the fake answers as Docker does where Berth relies on it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeEngine } from '../testing/fake-engine.js';
import { engineContract } from './contract.js';

engineContract('FakeEngine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fake-contract-'));
  // The fake reads the tarball only to give the image an ID from its content.
  const tarball = join(dir, 'root.tar');
  writeFileSync(tarball, 'a root filesystem, as far as the fake is concerned');
  return {
    engine: new FakeEngine(),
    project: 't-fake',
    tarball,
    healthCheckRan: (engine, container, passed) => (engine as FakeEngine).setHealth(container, passed ? 'healthy' : 'unhealthy'),
    unreachable: () => {
      const down = new FakeEngine({ endpoint: 'unix:///run/berth-test/absent.sock' });
      down.stopAnswering();
      return down;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
