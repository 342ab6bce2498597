/** Whether a program could listen on an address now, told apart from sockets a stopped program left closing. */
import { createServer } from 'node:net';
import { accepts } from '../ports.js';

/** free; taken by a listener; or a bind the system refused for another reason (EADDRNOTAVAIL, EACCES…). */
export type PortState = { state: 'free' } | { state: 'taken' } | { state: 'refused'; error: NodeJS.ErrnoException };

/**
 * Binds the address briefly. A failed bind is confirmed by connecting: sockets
 * a stopped program left closing (FIN-WAIT) also fail a test bind but accept
 * no connection, and the program's own listener (SO_REUSEADDR) binds fine then.
 */
export async function portState(host: string, port: number): Promise<PortState> {
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once('error', resolve);
    server.listen({ host, port }, () => server.close(() => resolve(undefined)));
  });
  if (!error) return { state: 'free' };
  if (error.code === 'EADDRINUSE') return (await accepts(loopbackFor(host), port)) ? { state: 'taken' } : { state: 'free' };
  return { state: 'refused', error };
}

/** Where to connect to reach a listener bound to `host` (the wildcard addresses are reached on loopback). */
export function loopbackFor(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
