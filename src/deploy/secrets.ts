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

/** The folder of a slot's secret files (mounted at /run/secrets); naming it writes nothing. */
export function slotSecretsDir(stateDir: string, environment: string, slot: string): string {
  return join(secretsRoot(stateDir), environment, slot);
}

/** Writes the secret files into a slot's folder (from `slotSecretsDir`), right before its container is created. */
export function writeSlotSecrets(stateDir: string, dir: string, values: ReadonlyMap<string, string>): void {
  if (values.size === 0) return;
  const root = secretsRoot(stateDir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, value] of values) {
    const file = join(dir, name);
    writeFileSync(file, value, { mode: 0o400 });
    chmodSync(file, 0o400);
  }
}

export function removeSlotSecrets(stateDir: string, environment: string, slot: string): void {
  rmSync(slotSecretsDir(stateDir, environment, slot), { recursive: true, force: true });
}
