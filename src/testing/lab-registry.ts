/**
 * The project's registry for a lab test, as a user sets it up for a fleet: on
 * this machine's LAN address, with TLS Berth generates and an htpasswd file
 * (bcrypt), the lab's engines trusting its CA through Berth's own certs.d
 * install. Recorded in the test folder before it is made, so the fixture's
 * cleanup (or a sweep) removes the certs.d entry too.
 *
 *   const registry = await labRegistry(lab);          // registry: registry.yaml in berth.yaml
 *   await upLabRegistry(fixture, registry);           // after berth.yaml is written
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { registryUp } from '../registry/process.js';
import { freePort, target } from '../registry/testing.js';
import type { Fixture } from './fixture.js';
import type { Lab } from './lab.js';
import { recordMade } from './leftovers.js';

export const REGISTRY_PASSWORD_ENV = 'T_REGISTRY_PASSWORD';

export interface LabRegistry {
  /** host:port on the lab's LAN. */
  address: string;
  password: string;
  /** berth.yaml's `registry:` section. */
  yaml: Record<string, unknown>;
}

export async function labRegistry(lab: Lab): Promise<LabRegistry> {
  const address = `${lab.hostIp}:${await freePort()}`;
  return {
    address,
    password: `pw-${randomBytes(8).toString('hex')}`,
    yaml: { listen: address, htpasswd: 'htpasswd', username: 'berth', password: { env: REGISTRY_PASSWORD_ENV } },
  };
}

/** Writes the htpasswd file, puts the password in the fixture's environment and starts the registry; its CA is then trusted by every engine here. */
export async function upLabRegistry(fixture: Fixture, registry: LabRegistry): Promise<void> {
  fixture.env[REGISTRY_PASSWORD_ENV] = registry.password;
  fixture.write('htpasswd', `berth:${bcrypt.hashSync(registry.password, 10)}\n`);
  recordMade(fixture.dir, 'certs', registry.address);
  const up = await registryUp(target(fixture));
  assert.equal(up.trust?.installed, true, `the registry's CA is trusted here: ${up.trust?.problem ?? 'no TLS'}`);
}
