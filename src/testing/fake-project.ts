/**
 * A project on FakeEngines, for unit tests of orchestrations without Docker: its berth.yaml in a
 * temp folder, its store, one FakeEngine per host (the first is also the build engine; the others
 * are what `Hosts` connects to), a FakeDoor, images tagged berth/<image>:<version>, and a health
 * command every instance passes unless the test scripts otherwise. Images that other hosts must
 * pull are pushed through a shared FakeRegistry and recorded as Berth's pushes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadProject } from '../config/project.js';
import { clientAddress } from '../registry/paths.js';
import type { RunContext } from '../runtime/context.js';
import { Hosts } from '../runtime/hosts.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import { recordPush } from '../store/pushes.js';
import type { ContainerState } from '../engine/containers.js';
import { FakeDoor } from './fake-door.js';
import { FakeEngine, FakeRegistry } from './fake-engine.js';

export interface FakeProject {
  dir: string;
  db: Store;
  context: RunContext;
  /** The first host's engine, also the build engine. */
  engine: FakeEngine;
  /** Each host's engine by host name. */
  engines: Map<string, FakeEngine>;
  door: FakeDoor;
  /** Image ID by version. */
  images: Record<string, string>;
  /** The health command's name (`check-<image>`), answered 0 by every engine. */
  health: string;
  /** Every container of `service` on every host, inspected, by name. */
  containers(service: string): Promise<(ContainerState & { host: string })[]>;
  close(): Promise<void>;
}

export interface FakeProjectOptions {
  /** berth.yaml; its first image is the one tagged `berth/<image>:<version>`. */
  config: Record<string, unknown>;
  versions?: string[];
  /** Push the versions to the registry (needed when a host other than the first runs them). */
  push?: boolean;
}

export async function fakeProject(prefix: string, options: FakeProjectOptions): Promise<FakeProject> {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  const image = Object.keys(options.config.images as object)[0]!;
  mkdirSync(join(dir, `images/${image}`), { recursive: true });
  writeFileSync(join(dir, `images/${image}/static.sh`), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'berth.yaml'), stringify(options.config));
  const env = { BERTH_STATE_DIR: join(dir, '.berth'), BERTH_ACTOR: 'test' };
  const project = loadProject(dir, env, dir);
  const db = await openStore(project.stateDir);
  const registry = new FakeRegistry();
  const engines = new Map(project.hosts.map((h) => [h.name, new FakeEngine({ endpoint: h.engine, registry })]));
  const engine = engines.get(project.hosts[0]!.name)!;
  const hosts = new Hosts(project, engine, (spec) => engines.get(spec.name) ?? assert.fail(`the test connected to a real engine for host ${spec.name}`));
  const context: RunContext = { project, db, hosts, env };
  const images: Record<string, string> = {};
  const address = clientAddress(project.registry.listen);
  for (const version of options.versions ?? ['v1', 'v2']) {
    images[version] = engine.addImage({ tags: [`berth/${image}:${version}`], labels: { 'berth.image': image, 'berth.project': project.name } });
    if (!options.push) continue;
    const repository = `berth/${image}`;
    await engine.images.tag(images[version]!, `${address}/${repository}`, version);
    const { digest } = await engine.images.push(`${address}/${repository}`, version, { serveraddress: address });
    await recordPush(db, { registry: address, repository, tag: version, digest, image, key: version, imageId: images[version]!, size: 527, pushedAt: Date.now() });
  }
  const health = `check-${image}`;
  for (const e of engines.values()) e.scriptExec((_c, cmd) => (cmd[0] === health ? { exitCode: 0, output: '' } : undefined));
  const containers = async (service: string) => {
    const all = await Promise.all(
      [...engines].map(async ([host, e]) => (await Promise.all((await e.containers.list([`berth.service=${service}`])).map((id) => e.containers.inspect(id)))).flatMap((s) => (s ? [{ ...s, host }] : []))),
    );
    return all.flat().sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  };
  return {
    dir,
    db,
    context,
    engine,
    engines,
    door: new FakeDoor(),
    images,
    health,
    containers,
    close: async () => {
      await closeStore(db);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
