/** Helpers for the registry's integration tests: a free port, a project's store and registry, and pull-and-verify. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { buildProject, type BuildSummary } from '../imaging/builder.js';
import type { Project } from '../config/model.js';
import { loadProject } from '../config/project.js';
import { openStore, type Store, closeStore } from '../store/db.js';
import type { Fixture } from '../testing/fixture.js';
import { sha256, type RegistryClient } from './client.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { registryTarget, type RegistryTarget } from './process.js';
import { pushProject, type PushOptions, type PushSummary } from './push.js';

/**
 * A free port below the kernel's ephemeral range. A port from that range (what
 * binding port 0 gives) can be taken while the registry restarts: a client
 * retrying 127.0.0.1:<port> may be handed that very port as its own and
 * connect to itself.
 */
export async function freePort(): Promise<number> {
  const range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const below = Math.min(range[0] ?? 32768, 32768);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (below - 10_000));
    if (await canBind(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

export async function withStore<T>(fixture: Fixture, use: (project: Project, db: Store) => Promise<T>): Promise<T> {
  const project = loadProject(fixture.dir, fixture.env);
  const db = await openStore(project.stateDir);
  try {
    return await use(project, db);
  } finally {
    await closeStore(db);
  }
}

export const target = (fixture: Fixture): RegistryTarget => registryTarget(loadProject(fixture.dir, fixture.env), fixture.env);

export function build(fixture: Fixture, only: string[] = []): Promise<BuildSummary> {
  return withStore(fixture, (project, db) => buildProject(project, fixture.engine, db, { only, env: fixture.env }));
}

export function push(fixture: Fixture, options: PushOptions = {}): Promise<PushSummary> {
  return withStore(fixture, (project, db) => pushProject(project, fixture.engine, db, fixture.env, options));
}

export function gc(fixture: Fixture, options: GcOptions = {}): Promise<GcReport> {
  return withStore(fixture, (project, db) => collectGarbage(project, fixture.engine, db, fixture.env, options));
}

/** Pulls a manifest by digest over the registry API and checks the digest of it and of every blob it names. */
export async function pullAndVerify(client: RegistryClient, repository: string, digest: string): Promise<void> {
  const manifest = await client.manifest(repository, digest);
  assert.ok(manifest, `${repository}@${digest} is in the registry`);
  assert.equal(`sha256:${sha256(manifest.body)}`, digest, `${repository}@${digest}: manifest content matches its digest`);
  for (const blob of manifest.blobs) {
    const data = await client.blob(repository, blob.digest);
    assert.ok(data, `${repository}@${digest}: blob ${blob.digest} is in the registry`);
    assert.equal(`sha256:${sha256(data)}`, blob.digest, `${repository}@${digest}: blob ${blob.digest} content matches`);
  }
}
