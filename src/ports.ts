/** Small TCP checks shared by the modules that run listeners (the registry, front doors). */
import { connect } from 'node:net';

/** Whether something accepts TCP connections at host:port (a slow answer counts as yes: something is there). */
export function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
