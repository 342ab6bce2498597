/**
 * Puts a host's warden (warden-spec.ts) on its engine: a new host token for it (the host's
 * earlier ones revoked), the warden before it removed, its container created from the warden
 * image already on the host, its loop, token (0400) and the server's CA copied in through the
 * archive API (never in its environment, command or inspect output), then started.
 */
import { pack } from 'tar-stream';
import { createHostToken } from '../access/tokens.js';
import type { RunContext } from '../runtime/context.js';
import { WARDEN_DIR, WARDEN_NAME, WARDEN_SCRIPT, wardenBody } from './warden-spec.js';

export interface WardenOptions {
  /** The warden image's ID or reference on the host. */
  image: string;
  /** The server's URL as the host reaches it. */
  server: string;
  /** PEM of the CA the server's certificate is checked against. */
  ca: string;
  /** Who asked (the token's creator). */
  actor: string;
}

export async function ensureWarden(run: RunContext, host: string, options: WardenOptions): Promise<{ id: string; token: string }> {
  run.hosts.spec(host);
  const engine = run.hosts.engine(host);
  const { token, record } = await createHostToken(run.db, host, options.actor);
  await engine.containers.remove(WARDEN_NAME);
  const failure = run.project.failure;
  const id = await engine.containers.create(
    wardenBody({ host, image: options.image, server: options.server, project: run.project.name, renewSeconds: Math.max(1, Math.round(failure.intervalMs / 1000)), stopGraceSeconds: Math.max(1, Math.round(failure.stopGraceMs / 1000)) }),
  );
  await engine.containers.putArchive(id, '/', await wardenFiles(token, options.ca));
  await engine.containers.start(id);
  return { id, token: record.name };
}

async function wardenFiles(token: string, ca: string): Promise<Buffer> {
  const tar = pack();
  const dir = WARDEN_DIR.slice(1);
  tar.entry({ name: dir, type: 'directory', mode: 0o700, mtime: new Date(0) });
  tar.entry({ name: `${dir}/warden.sh`, mode: 0o555, mtime: new Date(0) }, WARDEN_SCRIPT);
  tar.entry({ name: `${dir}/token`, mode: 0o400, mtime: new Date(0) }, token);
  tar.entry({ name: `${dir}/ca.pem`, mode: 0o444, mtime: new Date(0) }, ca);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
