/**
 * Puts a host's warden (warden-spec.ts) on its engine: a new host token for it (the host's
 * earlier ones revoked), the warden before it removed, its container created from the warden
 * image already on the host, its loop, token (0400) and the server's CA copied in through the
 * archive API (never in its environment, command or inspect output), then started.
 */
import { createHash } from 'node:crypto';
import { pack } from 'tar-stream';
import { createHostToken } from '../access/tokens.js';
import type { RunContext } from '../runtime/context.js';
import type { CreateBody } from '../engine/containers.js';
import { reasonOf } from '../runtime/reach.js';
import { engineSocketOn } from '../config/hosts-config.js';
import { WARDEN_DIR, WARDEN_NAME, WARDEN_SCRIPT, wardenBody } from './warden-spec.js';

/** The digest of what a warden runs (its container's settings and its loop), on its container: a warden that matches is left alone. */
export const WARDEN_SPEC_LABEL = 'berth.warden-spec';

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
  const body = wardenBodyFor(run, host, options);
  const id = await engine.containers.create({ ...body, Labels: { ...body.Labels, [WARDEN_SPEC_LABEL]: wardenDigest(body, options.ca) } });
  await engine.containers.putArchive(id, '/', await wardenFiles(token, options.ca));
  await engine.containers.start(id);
  return { id, token: record.name };
}

function wardenBodyFor(run: RunContext, host: string, options: WardenOptions): CreateBody {
  const failure = run.project.failure;
  return wardenBody({ host, socket: engineSocketOn(run.hosts.spec(host)), image: options.image, server: options.server, project: run.project.name, renewSeconds: Math.max(1, Math.round(failure.intervalMs / 1000)), stopGraceSeconds: Math.max(1, Math.round(failure.stopGraceMs / 1000)) });
}

function wardenDigest(body: CreateBody, ca: string): string {
  return createHash('sha256').update(JSON.stringify(body)).update('\0').update(WARDEN_SCRIPT).update('\0').update(ca).digest('hex').slice(0, 16);
}

export interface WardenPlaced {
  host: string;
  /** kept: its warden already ran this image and spec; placed: created or replaced; failed: see error. */
  outcome: 'kept' | 'placed' | 'failed';
  error?: string;
}

/**
 * A warden on each of the project's hosts (the server's host watch calls it after its rounds): a
 * host whose warden runs with the same spec is left alone (no new token), any other gets one
 * (ensureWarden). A host that fails is reported and tried again on the next call.
 */
export async function ensureWardens(run: RunContext, options: Omit<WardenOptions, 'image'> & { image: string | ((host: string) => Promise<string>) }, hosts: readonly string[] = run.project.hosts.map((h) => h.name)): Promise<WardenPlaced[]> {
  return Promise.all(
    hosts.map(async (host): Promise<WardenPlaced> => {
      try {
        const engine = run.hosts.engine(host);
        const image = typeof options.image === 'string' ? options.image : await options.image(host);
        const wanted = { ...options, image };
        const current = await engine.containers.inspect(WARDEN_NAME);
        if (current?.running && current.labels[WARDEN_SPEC_LABEL] === wardenDigest(wardenBodyFor(run, host, wanted), options.ca)) return { host, outcome: 'kept' };
        await ensureWarden(run, host, wanted);
        return { host, outcome: 'placed' };
      } catch (error) {
        return { host, outcome: 'failed', error: reasonOf(error) };
      }
    }),
  );
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
