/**
 * The container of one member of a front door (pure): its name, labels and
 * create body. HAProxy listens on the host's own network, so the door has the
 * host's addresses and no port publishing in its way; it keeps only the
 * capabilities it needs, and the engine restarts it unless Berth stopped it.
 */
import type { CreateBody } from '../engine/containers.js';
import { hostPort } from './haproxy-config.js';
import type { FrontDoorSpec } from './model.js';

export const DOOR_LABELS = {
  project: 'berth.project',
  /** The door's id (environment-service). */
  door: 'berth.door',
  /** address:port HAProxy listens on: a changed one needs a new container. */
  bind: 'berth.door.bind',
  /** Whether the door is behind a shared address (keepalived runs beside it, in a container of its own: vrrp-container.ts). */
  vrrp: 'berth.door.vrrp',
} as const;

/** Seconds a stopped door has for its requests in flight (HAProxy's soft stop) before the engine kills it. */
export const DOOR_STOP_SECONDS = 30;

/** The engine's default is 1024 per container. */
export const DOOR_CPU_SHARES = 4096;

/** berth-door-<project>-<environment>-<service>. */
export function doorContainerName(project: string, id: string): string {
  return `berth-door-${project}-${id}`;
}

export interface DoorContainerInput {
  project: string;
  spec: Pick<FrontDoorSpec, 'id' | 'bind'>;
  image: string;
  /** The door is behind a shared address (its label says so; keepalived has a container of its own). */
  vrrp: boolean;
}

export function doorCreateBody(input: DoorContainerInput): CreateBody {
  const { spec } = input;
  return {
    name: doorContainerName(input.project, spec.id),
    Image: input.image,
    Labels: {
      [DOOR_LABELS.project]: input.project,
      [DOOR_LABELS.door]: spec.id,
      [DOOR_LABELS.bind]: hostPort(spec.bind.address, spec.bind.port),
      [DOOR_LABELS.vrrp]: String(input.vrrp),
    },
    // HAProxy's soft stop: it stops listening and lets the requests in flight finish.
    StopSignal: 'SIGUSR1',
    StopTimeout: DOOR_STOP_SECONDS,
    HostConfig: {
      NetworkMode: 'host',
      CapDrop: ['ALL'],
      // A port below 1024.
      CapAdd: ['NET_BIND_SERVICE'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'unless-stopped' },
      // Every request passes through the door: on a busy host it gets four times an instance's CPU weight.
      CpuShares: DOOR_CPU_SHARES,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}
