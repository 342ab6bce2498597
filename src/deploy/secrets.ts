/**
 * Service secrets, read at deploy time from the environment or a file and
 * written for each slot into a folder of the state directory that only root
 * can enter; it is mounted read-only at /run/secrets, where the image's
 * entrypoint exports each file as a variable. So a secret is never in an image
 * layer, a label, the container's config (docker inspect) or any output.
 * The files outlive the deploy because a container restarted by the engine
 * (after a reboot, say) needs them again.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceSpec } from '../config/model.js';
import { readSecret } from '../registry/secrets.js';

export function secretsRoot(stateDir: string): string {
  return join(stateDir, 'secrets');
}

/** Reads every secret of the service now, so a missing one fails the deploy before anything changes. */
export function readServiceSecrets(service: ServiceSpec, env: NodeJS.ProcessEnv): Map<string, string> {
  return new Map(Object.entries(service.secrets).map(([name, ref]) => [name, readSecret(ref, `services.${service.name}.secrets.${name}`, env)]));
}

/** Writes the slot's secret files; returns the folder to mount, or undefined when the service has none. */
export function writeSlotSecrets(stateDir: string, environment: string, slot: string, values: ReadonlyMap<string, string>): string | undefined {
  if (values.size === 0) return undefined;
  const root = secretsRoot(stateDir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  const dir = join(root, environment, slot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, value] of values) {
    const file = join(dir, name);
    writeFileSync(file, value, { mode: 0o400 });
    chmodSync(file, 0o400);
  }
  return dir;
}

export function removeSlotSecrets(stateDir: string, environment: string, slot: string): void {
  rmSync(join(secretsRoot(stateDir), environment, slot), { recursive: true, force: true });
}
