/**
 * What the engine is asked to create for one instance, as plain data.
 * Pure: tests compare whole bodies without an engine.
 */
import type { CreateBody } from '../engine/containers.js';

export interface PortMapping {
  /** "8080" or "8080/tcp" inside the container. */
  container: string;
  /** Host port; 0 lets the engine pick a free one. */
  host: number;
  hostIp: string;
}

export interface InstanceSpec {
  project: string;
  service: string;
  environment: string;
  /** Instance name: also the container name and hostname. */
  instance: string;
  image: string;
  command?: string[] | undefined;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: PortMapping[];
  /** Seconds between SIGTERM and SIGKILL on stop. */
  stopGraceSeconds?: number;
  /** Bind mounts as the engine takes them, "host-path:container-path[:ro]". */
  binds?: string[];
}

export const LABELS = {
  project: 'berth.project',
  service: 'berth.service',
  environment: 'berth.env',
  instance: 'berth.instance',
} as const;

export function containerBody(spec: InstanceSpec): CreateBody {
  const ports = spec.ports ?? [];
  const portKey = (p: PortMapping) => (p.container.includes('/') ? p.container : `${p.container}/tcp`);
  const env = {
    ...spec.env,
    BERTH_SERVICE: spec.service,
    BERTH_ENV: spec.environment,
    BERTH_INSTANCE: spec.instance,
    BERTH_HOSTNAME: spec.instance,
  };
  return {
    name: spec.instance,
    Hostname: spec.instance,
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...spec.labels,
      [LABELS.project]: spec.project,
      [LABELS.service]: spec.service,
      [LABELS.environment]: spec.environment,
      [LABELS.instance]: spec.instance,
    },
    ExposedPorts: Object.fromEntries(ports.map((p) => [portKey(p), {}])),
    StopTimeout: spec.stopGraceSeconds ?? 10,
    HostConfig: {
      // The engine's init (tini) is PID 1: it reaps zombies and forwards signals even when the image has no tini.
      Init: true,
      ...(spec.binds && spec.binds.length > 0 ? { Binds: spec.binds } : {}),
      PortBindings: Object.fromEntries(ports.map((p) => [portKey(p), [{ HostIp: p.hostIp, HostPort: p.host === 0 ? '' : String(p.host) }]])),
    },
  };
}
