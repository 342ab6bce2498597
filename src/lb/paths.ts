import { join } from 'node:path';

/** Where the front door of a service in an environment keeps its config, pid, log and admin socket. */
export function frontDoorDir(stateDir: string, service: string, environment: string): string {
  return join(stateDir, 'lb', `${environment}-${service}`);
}
