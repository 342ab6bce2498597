/** berth server [--listen ADDR:PORT] [--state DIR] [--tls-cert F --tls-key F]: the control plane (server/main.ts). */
import { resolve } from 'node:path';
import { invalid } from '../../errors.js';
import type { Command } from '../command.js';
import { durationFlag } from '../flags.js';

const reconcileInterval = (value: unknown): number => (String(value).trim() === '0' ? 0 : durationFlag(value, '--reconcile-interval')!);

const USAGE = 'berth server [--listen 127.0.0.1:7878] [--state DIR] [--tls-cert cert.pem --tls-key key.pem] [--reconcile-interval 10s (0s: off)]';

export const serverCommand: Command = {
  name: 'server',
  summary: 'runs the Berth server: one store, API under /v1, rollouts run in it; the first start prints an admin token',
  usage: USAGE,
  options: { listen: { type: 'string' }, state: { type: 'string' }, 'reconcile-interval': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } },
  run: async (context) => {
    const { flags, output, env, cwd } = context;
    const cert = flags['tls-cert'];
    const key = flags['tls-key'];
    if ((typeof cert === 'string') !== (typeof key === 'string')) throw invalid('--tls-cert and --tls-key go together', { fix: `usage: ${USAGE}` });
    // Loaded only here: the other commands never pay for the HTTP framework.
    const { startServer, DEFAULT_LISTEN } = await import('../../server/main.js');
    const stateDir = resolve(cwd, typeof flags.state === 'string' ? flags.state : (env.BERTH_STATE_DIR ?? '/var/lib/berth'));
    const server = await startServer({
      listen: typeof flags.listen === 'string' ? flags.listen : DEFAULT_LISTEN,
      ...(flags['reconcile-interval'] !== undefined ? { reconcileIntervalMs: reconcileInterval(flags['reconcile-interval']) } : {}),
      stateDir,
      env,
      ...(typeof cert === 'string' && typeof key === 'string' ? { tls: { cert: resolve(cwd, cert), key: resolve(cwd, key) } } : {}),
      say: (line) => output.out(line),
    });
    output.out(`berth server listening on ${server.url} (state ${stateDir})`);
    await new Promise<void>((done) => {
      const stop = (signal: NodeJS.Signals) => {
        output.out(`berth server: ${signal}: stopping; rollouts in progress resume when it starts again`);
        server.close().finally(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
