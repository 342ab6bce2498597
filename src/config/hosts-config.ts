/** `hosts:` and `fleet:` of berth.yaml: how Berth reaches each engine, checked before any connection. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { HostSpec } from './model.js';
import type { ProblemList } from './problems.js';
import type { fleetShape, hostsShape } from './run-schema.js';
import type { KeyPath, YamlSource } from './yaml-source.js';

type RawHost = NonNullable<ReturnType<typeof hostsShape>>[number];
type RawFleet = NonNullable<ReturnType<typeof fleetShape>>;
type RawTls = NonNullable<RawHost['tls']>;

const DEFAULT_SOCKET = '/var/run/docker.sock';
const LOCAL_SOCKET = `unix://${DEFAULT_SOCKET}`;

export function hostSpecs(raw: RawHost[], fleet: RawFleet, source: YamlSource, problems: ProblemList, dir: string, env: NodeJS.ProcessEnv): HostSpec[] {
  if (raw.length === 0) return [localHost(env)];
  const fleetTls = fleet.tls ? tlsFiles(fleet.tls, ['fleet', 'tls'], source, problems, dir) : undefined;
  return raw.map((h, i) => {
    const path: KeyPath = ['hosts', i];
    const engine = h.engine ?? LOCAL_SOCKET;
    const tcp = engine.startsWith('tcp://');
    if (!tcp && h.tls) problems.at(source, [...path, 'tls'], `"tls" is for tcp:// engines; ${engine} is a local socket`, 'remove "tls" from this host');
    if (h.insecure && h.tls) problems.at(source, [...path, 'insecure'], '"insecure: true" and "tls" contradict each other', 'remove "insecure" to use TLS, or "tls" to talk plain HTTP');
    const own = h.tls && tcp ? tlsFiles(h.tls, [...path, 'tls'], source, problems, dir) : undefined;
    const tls = tcp && !h.insecure ? (own ?? fleetTls) : undefined;
    if (tcp && !tls && !h.insecure && !(h.tls ?? fleet.tls)) {
      problems.at(
        source,
        [...path, 'engine'],
        `${engine} without TLS: anyone who can reach that port is root on the host`,
        `give the host "tls: { ca, cert, key }" (or all hosts "fleet: { tls: ... }"; dockerd --tlsverify on the host), or write "insecure: true" for this host to accept that`,
      );
    }
    return {
      name: h.name!,
      engine,
      ...(h.socket ? { socket: h.socket } : {}),
      ...(h.address ? { address: h.address } : {}),
      ...(tls ? { tls } : {}),
      insecure: h.insecure ?? false,
      labels: h.labels ?? {},
    };
  });
}

/** Where a host's engine listens on the host itself (the warden mounts it): its `socket`, else the unix:// engine's path, else Docker's default. */
export function engineSocketOn(host: Pick<HostSpec, 'engine' | 'socket'>): string {
  return host.socket ?? (host.engine.startsWith('unix://') ? host.engine.slice('unix://'.length) : DEFAULT_SOCKET);
}

/** The one host of a project without `hosts:`: DOCKER_HOST (with the docker CLI's TLS variables) or the local socket. */
function localHost(env: NodeJS.ProcessEnv): HostSpec {
  const engine = env.DOCKER_HOST ?? LOCAL_SOCKET;
  const tcp = engine.startsWith('tcp://');
  const certs = env.DOCKER_CERT_PATH ?? join(env.HOME ?? homedir(), '.docker');
  const tls = tcp && env.DOCKER_TLS_VERIFY ? { ca: join(certs, 'ca.pem'), cert: join(certs, 'cert.pem'), key: join(certs, 'key.pem') } : undefined;
  return { name: 'local', engine, ...(tls ? { tls } : {}), insecure: tcp && !tls, labels: {} };
}

/** The three files, absolute, each of which must exist. */
function tlsFiles(raw: RawTls, path: KeyPath, source: YamlSource, problems: ProblemList, dir: string): HostSpec['tls'] {
  const files = { ca: raw.ca!, cert: raw.cert!, key: raw.key! };
  let complete = true;
  for (const key of ['ca', 'cert', 'key'] as const) {
    if (files[key] === undefined) return undefined;
    files[key] = isAbsolute(files[key]) ? files[key] : resolve(dir, files[key]);
    if (!existsSync(files[key])) {
      complete = false;
      problems.at(source, [...path, key], `no such file: ${files[key]}`, 'TLS paths are relative to the folder of berth.yaml; docs/hosts.md shows how to make the CA and certificates');
    }
  }
  return complete ? files : undefined;
}
