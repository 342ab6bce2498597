/**
 * The local Docker Engine's trust of the registry's CA: Docker reads
 * /etc/docker/certs.d/<host:port>/ca.crt at every pull and push (its
 * documented place for a private registry's CA), so every dockerd on this
 * machine trusts it without a restart. Remote hosts need the same file; the
 * operator copies it (`berth registry ca` prints it).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DOCKER_CERTS_DIR = '/etc/docker/certs.d';

export interface Trust {
  /** Where the engines on this machine look for the registry's CA. */
  path: string;
  installed: boolean;
  /** Why it could not be installed. */
  problem?: string;
}

export function trustPath(address: string, certsDir = DOCKER_CERTS_DIR): string {
  return join(certsDir, address, 'ca.crt');
}

/** Writes the CA where this machine's engines read it, unless the same PEM is there already. */
export function installTrust(caFile: string, address: string, certsDir = DOCKER_CERTS_DIR): Trust {
  const path = trustPath(address, certsDir);
  const pem = readFileSync(caFile, 'utf8');
  try {
    if (existsSync(path) && readFileSync(path, 'utf8') === pem) return { path, installed: true };
    mkdirSync(join(certsDir, address), { recursive: true });
    writeFileSync(path, pem);
    chmodSync(path, 0o644);
    return { path, installed: true };
  } catch (error) {
    return { path, installed: false, problem: `cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
}

/** Whether this machine's engines trust the CA now. */
export function trustOf(caFile: string, address: string, certsDir = DOCKER_CERTS_DIR): Trust {
  const path = trustPath(address, certsDir);
  const installed = existsSync(path) && existsSync(caFile) && readFileSync(path, 'utf8') === readFileSync(caFile, 'utf8');
  return installed ? { path, installed } : { path, installed, problem: existsSync(path) ? `${path} holds another CA` : `${path} does not exist` };
}
