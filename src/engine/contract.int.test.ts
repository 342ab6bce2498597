/** The engine contract against this machine's Docker Engine: what the FakeEngine must match. */
import { join } from 'node:path';
import { claimTestDir, tinyRootTarball } from '../testing/fixture.js';
import { connectEngine } from './client.js';
import { engineContract } from './contract.js';

engineContract('Docker Engine', async () => {
  const { name, dir, cleanup } = await claimTestDir();
  const engine = connectEngine();
  return {
    engine,
    project: name,
    tarball: await tinyRootTarball(),
    // The engine runs the health command (/bin/true or /bin/false) itself.
    healthCheckRan: () => undefined,
    unreachable: () => connectEngine({ DOCKER_HOST: `unix://${join(dir, 'no-engine.sock')}` }),
    cleanup: async () => {
      await cleanup();
      await engine.close();
    },
  };
});
