/**
 * What a configuration may read on the server's machine: the one place that
 * decides it. An admin of the API is not root on the server: a configuration
 * may read the files its bundle carries (its own folder), and those in a
 * folder the server's operator allowed (`berth server --allow-read DIR`),
 * nothing else: never the server's state (its keys, its store), never /proc.
 * Paths are compared as real paths (symlinks and `..` resolved), so
 * `<state>/./secret.key`, `/proc/self/root/<state>/…` and a link that leaves
 * an allowed folder are what they point at. A file is read by its real path,
 * so a link changed after the check is not followed to somewhere else.
 *
 * The CLI run without a server (Project.readable unset) reads what its user can.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BerthErrors, forbidden, type BerthError } from '../errors.js';
import type { Project, ReadableFiles, SecretRef } from './model.js';

/** The real path of a file; of one that does not exist, the real path of its nearest existing folder and the rest as named. */
export function realPath(file: string): string {
  const path = resolve(file);
  try {
    return realpathSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(path) === path) return path;
    return join(realPath(dirname(path)), basename(path));
  }
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

/**
 * The path to read `file` (named by `key` of berth.yaml) from: `file` itself
 * for the CLI, its real path for a configuration a server loaded, or a
 * refusal (forbidden) naming the file and the fix.
 */
export function readablePath(project: Pick<Project, 'dir' | 'readable'>, file: string, key: string): string {
  const scope = project.readable;
  if (!scope) return file;
  const real = realPath(file);
  const named = real === resolve(file) ? file : `${file} (really ${real})`;
  if (inside(resolve(file), '/proc') || inside(real, '/proc')) {
    throw forbidden(`${key} reads ${named}: a configuration on a server never reads /proc`, { fix: FIX });
  }
  if (inside(real, realPath(project.dir))) return real;
  if (inside(real, realPath(scope.stateDir))) {
    throw forbidden(`${key} reads ${named}, a file of the server's state directory (its keys and store)`, {
      fix: 'store a secret on the server: secrets: { NAME: stored } and berth secret set; put a config file into the project folder (berth apply uploads it)',
    });
  }
  if (scope.allowed.some((dir) => inside(real, realPath(dir)))) return real;
  const allowed = scope.allowed.length > 0 ? `, or in ${scope.allowed.join(', ')} (the folders its operator allowed)` : '';
  throw forbidden(`${key} reads ${named}: on a server a configuration reads only the files berth apply uploaded with it${allowed}`, { fix: FIX });
}

const FIX = 'put the file into the project folder (berth apply uploads it), store a secret with berth secret set (secrets: { NAME: stored }), or have the server started with --allow-read <its folder>';

/**
 * Every file a loaded project names that a server would read, with its key in
 * berth.yaml. `hostsFromEnv`: berth.yaml has no hosts, so its one host's TLS
 * files are the server's own (DOCKER_CERT_PATH), not the configuration's.
 */
export function namedFiles(project: Pick<Project, 'services' | 'environments' | 'registry' | 'hosts'>, hostsFromEnv: boolean): { key: string; file: string }[] {
  const files: { key: string; file: string }[] = [];
  const secret = (key: string, ref: SecretRef | { stored: true } | undefined) => {
    if (ref && 'file' in ref && ref.file !== undefined) files.push({ key, file: ref.file });
  };
  for (const service of project.services.values()) {
    for (const config of service.configFiles) files.push({ key: `services.${service.name}.config.${config.target}`, file: config.source });
    for (const [name, ref] of Object.entries(service.secrets)) secret(`services.${service.name}.secrets.${name}`, ref);
  }
  for (const environment of project.environments.values()) {
    for (const [service, settings] of Object.entries(environment.services)) {
      for (const [name, ref] of Object.entries(settings.secrets ?? {})) secret(`environments.${environment.name}.services.${service}.secrets.${name}`, ref);
    }
  }
  const registry = project.registry;
  secret('registry.secret', registry.secret);
  secret('registry.password', registry.password);
  if (registry.storage.kind === 's3') {
    secret('registry.storage.s3.access_key', registry.storage.accessKey);
    secret('registry.storage.s3.secret_key', registry.storage.secretKey);
  }
  if (registry.htpasswd !== undefined) files.push({ key: 'registry.htpasswd', file: registry.htpasswd });
  if (registry.tls && !registry.tls.generated) {
    for (const part of ['cert', 'key', 'ca'] as const) if (registry.tls[part] !== undefined) files.push({ key: `registry.tls.${part}`, file: registry.tls[part] });
  }
  for (const [index, host] of hostsFromEnv ? [] : project.hosts.entries()) {
    for (const part of ['ca', 'cert', 'key'] as const) if (host.tls) files.push({ key: `hosts[${index}] (${host.name}).tls.${part}`, file: host.tls[part] });
  }
  return files;
}

/** Refuses a project a server loaded when it names a file it may not read: every such file at once. */
export function refuseUnreadable(project: Pick<Project, 'services' | 'environments' | 'registry' | 'hosts' | 'dir' | 'readable'>, hostsFromEnv: boolean): void {
  const refused: BerthError[] = [];
  for (const { key, file } of namedFiles(project, hostsFromEnv)) {
    try {
      readablePath(project, file, key);
    } catch (error) {
      refused.push(error as BerthError);
    }
  }
  if (refused.length === 1) throw refused[0]!;
  if (refused.length > 1) throw new BerthErrors(refused);
}
