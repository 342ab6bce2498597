/**
 * The files an instance gets in its container's writable layer before it
 * starts: each secret at /run/secrets/<NAME> (0400, owned by the user the
 * service runs as) and each config file at its target (read-only, owned by
 * root). One tar, unpacked by the engine (PUT /containers/{id}/archive), so
 * it works the same on any host. Why this design: see secrets.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { pack } from 'tar-stream';
import type { Project, ServiceSpec } from '../config/model.js';
import { readablePath } from '../config/readable-files.js';
import { firstFileOf } from '../engine/archive.js';
import type { EngineContainers } from '../engine/engine.js';
import { failed, notFound } from '../errors.js';

export const SECRETS_DIR = '/run/secrets';

export interface ConfigContent {
  /** Absolute path inside the container. */
  target: string;
  content: Buffer;
  mode: number;
}

/** What is copied into each instance of a service in an environment, read once per rollout. */
export interface InstanceFiles {
  secrets: ReadonlyMap<string, string>;
  configs: readonly ConfigContent[];
}

export interface Owner {
  uid: number;
  gid: number;
}

export const ROOT: Owner = { uid: 0, gid: 0 };

/** Config files stay read-only as the bind mounts were; an executable source keeps its x bits. */
export function configMode(sourceMode: number): number {
  return 0o444 | (sourceMode & 0o111);
}

/** The archive to unpack at / of the container. Missing parent folders of a config target are made by the engine (0755, root). */
export async function instanceArchive(files: InstanceFiles, owner: Owner): Promise<Buffer> {
  const tar = pack();
  const mtime = new Date();
  if (files.secrets.size > 0) {
    tar.entry({ name: `${SECRETS_DIR.slice(1)}/`, type: 'directory', mode: 0o500, uid: owner.uid, gid: owner.gid, mtime });
    for (const [name, value] of files.secrets) tar.entry({ name: `${SECRETS_DIR.slice(1)}/${name}`, mode: 0o400, uid: owner.uid, gid: owner.gid, mtime }, value);
  }
  for (const file of files.configs) tar.entry({ name: file.target.replace(/^\/+/, ''), mode: file.mode, uid: 0, gid: 0, mtime }, file.content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The user the service runs as, like the entrypoint decides it: the image's
 * USER when it is not root (then the entrypoint itself runs as that user),
 * else BERTH_USER (the image's `user:`, which the entrypoint drops to), else root ('').
 */
export function serviceUser(config: { user: string; env: Record<string, string> }): string {
  if (config.user !== '' && !/^(root|0)(:|$)/.test(config.user)) return config.user;
  return config.env.BERTH_USER ?? '';
}

/** Resolves "user", "user:group", "uid" or "uid:gid" against the image's /etc/passwd and /etc/group as the entrypoint does. */
export function resolveOwner(spec: string, passwd: string, group: string): Owner {
  if (spec === '') return ROOT;
  const at = spec.indexOf(':');
  const user = at < 0 ? spec : spec.slice(0, at);
  const groupName = at < 0 ? '' : spec.slice(at + 1);
  const numeric = (s: string) => /^\d+$/.test(s);
  const entry = fields(passwd).find((f) => (numeric(user) ? f[2] === user : f[0] === user));
  if (!entry && !numeric(user)) throw failed(`cannot give the secrets to user "${user}" (user: ${spec}): it is not in the image's /etc/passwd`, { fix: 'create the user in a static.sh, or fix the image\'s "user:"' });
  const uid = Number(entry ? entry[2] : user);
  const primary = Number(entry ? entry[3] : user);
  if (groupName === '') return { uid, gid: primary };
  if (numeric(groupName)) return { uid, gid: Number(groupName) };
  const g = fields(group).find((f) => f[0] === groupName);
  if (!g) throw failed(`cannot give the secrets to group "${groupName}" (user: ${spec}): it is not in the image's /etc/group`, { fix: 'create the group in a static.sh, or fix the image\'s "user:"' });
  return { uid, gid: Number(g[2]) };
}

/** Copies the files into a created container before it starts; the owner of the secrets is read from the container itself. */
export async function copyInstanceFiles(containers: EngineContainers, id: string, files: InstanceFiles): Promise<void> {
  if (files.secrets.size === 0 && files.configs.length === 0) return;
  const owner = files.secrets.size > 0 ? await ownerIn(containers, id) : ROOT;
  await containers.putArchive(id, '/', await instanceArchive(files, owner));
}

/** The content of every config file of a service, read once per rollout (what is hashed is what is copied); on a server, only what its configuration may read. */
export function readConfigFiles(service: ServiceSpec, project: Pick<Project, 'dir' | 'readable'>): ConfigContent[] {
  return service.configFiles.map((file) => {
    const path = readablePath(project, file.source, `services.${service.name}.config.${file.target}`);
    try {
      return { target: file.target, content: readFileSync(path), mode: configMode(statSync(path).mode) };
    } catch (error) {
      throw notFound(`services.${service.name}.config.${file.target}: cannot read ${file.source}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
        fix: 'config paths are relative to the folder of berth.yaml; make the file readable by the user running berth',
      });
    }
  });
}

async function ownerIn(containers: EngineContainers, id: string): Promise<Owner> {
  const spec = serviceUser(await containers.processConfig(id));
  if (spec === '' || /^\d+:\d+$/.test(spec)) return resolveOwner(spec, '', '');
  const [passwd, group] = await Promise.all([fileIn(containers, id, '/etc/passwd'), spec.includes(':') ? fileIn(containers, id, '/etc/group') : '']);
  return resolveOwner(spec, passwd, group);
}

/** A text file of the container ('' when it has none). */
async function fileIn(containers: EngineContainers, id: string, path: string): Promise<string> {
  const tar = await containers.getArchive(id, path).catch((error: unknown) => {
    if ((error as { kind?: string }).kind === 'not-found') return undefined;
    throw error;
  });
  return tar ? firstFileOf(tar) : '';
}

function fields(text: string): string[][] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split(':'));
}
