import { isAbsolute, join, resolve } from 'node:path';
import type { RegistrySettings, RetentionSettings, SecretRef } from './model.js';
import type { ProblemList } from './problems.js';
import { Checker } from './schema.js';
import { registryShape, retentionShape } from './ship-schema.js';
import type { YamlSource } from './yaml-source.js';

const DAY = 86_400_000;

export function shipConfig(raw: { registry?: unknown; retention?: unknown }, source: YamlSource, problems: ProblemList, dir: string, stateDir: string) {
  const check = new Checker();
  const r = registryShape(raw.registry ?? {}, ['registry'], check) ?? {};
  const k = retentionShape(raw.retention ?? {}, ['retention'], check) ?? {};
  problems.addAll(source, check.problems);
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const secret = (s: { env?: string; file?: string } | undefined): SecretRef | undefined =>
    s === undefined ? undefined : { ...(s.env ? { env: s.env } : {}), ...(s.file ? { file: path(s.file) } : {}) };

  if (r.storage?.filesystem && r.storage.s3) problems.at(source, ['registry', 'storage'], 'choose one storage: filesystem or s3', 'remove one of the two');
  for (const key of ['secret', 'password'] as const) {
    const ref = r[key];
    if (ref && !ref.env === !ref.file) problems.at(source, ['registry', key], 'name exactly one of "env" or "file"', `e.g. ${key}: { env: REGISTRY_${key.toUpperCase()} }`);
  }
  if (r.htpasswd === undefined && (r.username !== undefined || r.password !== undefined)) {
    problems.at(source, ['registry', 'username'], 'username/password are only used with htpasswd', 'add "htpasswd: <file>" or remove the credentials');
  }
  const listen = r.listen ?? '127.0.0.1:5000';
  const reachable = !isLoopbackListen(listen);
  if (reachable) {
    const missing = [r.htpasswd === undefined && 'htpasswd', r.username === undefined && 'username', r.password === undefined && 'password'].filter((k): k is string => k !== false);
    if (missing.length > 0) {
      problems.at(source, ['registry', 'listen'], `${listen} is reachable from other machines, so the registry needs TLS and a password, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`, 'add under registry: htpasswd: <file made with "htpasswd -Bbc FILE NAME PASSWORD">, username: NAME, password: { env: REGISTRY_PASSWORD } (Berth generates the TLS certificates unless registry.tls names yours); or listen on 127.0.0.1');
    }
  }
  const tlsDir = join(stateDir, 'registry', 'tls');
  const tls =
    r.tls === 'generate' || (r.tls === undefined && reachable)
      ? { cert: join(tlsDir, 'server.crt'), key: join(tlsDir, 'server.key'), ca: join(tlsDir, 'ca.crt'), generated: true }
      : r.tls !== undefined
        ? { cert: path(r.tls.cert!), key: path(r.tls.key!), ca: path(r.tls.ca ?? r.tls.cert!), generated: false }
        : undefined;
  const s3 = r.storage?.s3;
  const registry: RegistrySettings = {
    listen,
    storage: s3
      ? {
          kind: 's3',
          endpoint: s3.endpoint!,
          bucket: s3.bucket!,
          region: s3.region ?? 'us-east-1',
          accessKey: secret(s3.access_key)!,
          secretKey: secret(s3.secret_key)!,
          ...(s3.root_directory ? { rootDirectory: s3.root_directory } : {}),
        }
      : { kind: 'filesystem', path: r.storage?.filesystem?.path ? path(r.storage.filesystem.path) : join(stateDir, 'registry', 'data') },
    ...(r.secret ? { secret: secret(r.secret)! } : {}),
    ...(r.htpasswd ? { htpasswd: path(r.htpasswd) } : {}),
    ...(r.username ? { username: r.username } : {}),
    ...(r.password ? { password: secret(r.password)! } : {}),
    ...(tls ? { tls } : {}),
  };
  const retention: RetentionSettings = { keepLast: k.keep_last ?? 5, keepYoungerThanMs: k.keep_younger_than ?? 14 * DAY, keepReleases: k.keep_releases ?? 3 };
  return { registry, retention };
}

/** Whether a listen address (host:port) is reached from this machine only: 127.0.0.0/8, ::1 or localhost. A wildcard is not. */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
