/** Where the embedded registry keeps its files: <state dir>/registry/. */
import { join } from 'node:path';

export interface RegistryPaths {
  dir: string;
  /** The generated Distribution config (mode 0600: it may hold S3 keys). */
  config: string;
  pid: string;
  log: string;
  /** The generated http.secret, when berth.yaml names none. */
  secret: string;
  /** Present while `berth registry gc` runs maintenance; pushes wait while it exists. */
  maintenance: string;
}

export function registryPaths(stateDir: string): RegistryPaths {
  const dir = join(stateDir, 'registry');
  return {
    dir,
    config: join(dir, 'config.yml'),
    pid: join(dir, 'registry.pid'),
    log: join(dir, 'registry.log'),
    secret: join(dir, 'secret'),
    maintenance: join(dir, 'maintenance.json'),
  };
}

/** The address clients use: a wildcard listen address is reached on loopback. */
export function clientAddress(listen: string): string {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at);
  const port = listen.slice(at + 1);
  return host === '0.0.0.0' || host === '' || host === '[::]' || host === '::' ? `127.0.0.1:${port}` : listen;
}
