/** The labels Berth puts on every service container; the engine's containers are the truth of what runs. */
export const RUN_LABELS = {
  project: 'berth.project',
  service: 'berth.service',
  environment: 'berth.env',
  instance: 'berth.instance',
  host: 'berth.host',
  network: 'berth.network',
  digest: 'berth.digest',
  spec: 'berth.spec',
  deployment: 'berth.deployment',
  incarnation: 'berth.incarnation',
} as const;

/** The container of a host's warden (fleet/warden-spec.ts), which the executor also asks to do a move's address work. */
export const WARDEN_NAME = 'berth-warden';
