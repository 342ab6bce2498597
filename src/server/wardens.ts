/**
 * The server's warden pass (after each round of its host watch): the warden image built once (or
 * found by its key) and pushed when some host is not the build engine, then a warden ensured on
 * every host (fleet/warden.ts: a host whose warden matches is left alone). Never two passes at
 * once; a failure is an event (once per host and reason, not every round), never a crash.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../runtime/reach.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { ensureWardens } from '../fleet/warden.js';
import { buildWardenImage, wardenImageOn, type WardenImage } from '../fleet/warden-image.js';
import type { ServerCore } from './core.js';

export interface WardenTarget {
  /** The server's URL as the hosts reach it (https://…). */
  server: string;
  /** PEM the wardens check the server's certificate against. */
  ca: string;
}

export interface WardenPass {
  /** Starts a pass unless one runs. */
  kick(): void;
  stop(): Promise<void>;
}

export function startWardens(core: ServerCore, target: WardenTarget, publish: (type: string, data: object) => void): WardenPass {
  const folder = join(core.stateDir, 'warden');
  let db: Promise<Store> | undefined;
  let image: WardenImage | undefined;
  let running: Promise<void> | undefined;
  /** The last reason each host (or '' for the image) failed: reported once, until it changes or succeeds. */
  const reported = new Map<string, string>();
  const report = (key: string, data: Record<string, unknown> & { message: string }) => {
    if (reported.get(key) === data.message) return;
    reported.set(key, data.message);
    publish('warden-failed', data);
  };
  const pass = async () => {
    const run = await core.run('warden').catch(() => undefined);
    if (!run) return; // nothing applied yet: no hosts
    const push = run.project.hosts.some((h) => !run.hosts.isBuildEngine(h.name));
    if (!image || (push && !image.pushed)) {
      db ??= (async () => {
        mkdirSync(folder, { recursive: true, mode: 0o700 });
        return openStore(folder);
      })();
      try {
        image = await buildWardenImage(run, await db, { push });
        reported.delete('');
      } catch (error) {
        report('', { message: reasonOf(error) });
        return;
      }
    }
    for (const r of await ensureWardens(run, { ...target, actor: 'server', image: wardenImageOn(run, image) })) {
      if (r.outcome === 'failed') report(r.host, { host: r.host, message: r.error ?? 'failed' });
      else reported.delete(r.host);
      if (r.outcome === 'placed') publish('warden-placed', { host: r.host });
    }
  };
  return {
    kick() {
      running ??= pass()
        .catch((error: unknown) => report('', { message: reasonOf(error) })) // nothing applied yet, or the store is busy: the next round tries again
        .finally(() => {
          running = undefined;
        });
    },
    async stop() {
      // A first build of the image may take minutes (the Debian bootstrap): the server's close does not wait for it.
      const close = async () => {
        if (db) await closeStore(await db);
      };
      if (running) void running.then(close).catch(() => {});
      else await close();
    },
  };
}
