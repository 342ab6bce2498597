/** What a rollout needs of a service's front door; rollout/front-door.ts implements it on Berth's HAProxy module. */
export interface DoorServer {
  /** The instance's slot. */
  name: string;
  address: string;
  port: number;
  weight: number;
}

export interface DoorServerStats {
  name: string;
  weight: number;
  state: string;
  requests: number;
  /** 5xx answers plus connection and response errors. */
  errors: number;
}

export interface Door {
  readonly address: string;
  readonly port: number;
  /** Starts the front door if needed and makes its servers exactly these, ready. */
  sync(servers: DoorServer[]): Promise<void>;
  /** Adds the server or updates its address and weight; it is ready afterwards. */
  upsert(server: DoorServer): Promise<void>;
  /** No new requests; returns whether in-flight ones finished within `timeoutMs`. */
  drain(name: string, timeoutMs: number): Promise<boolean>;
  remove(name: string): Promise<void>;
  setWeight(name: string, weight: number): Promise<void>;
  stats(): Promise<DoorServerStats[]>;
  /** Stops the front door and forgets its port: after a first rollout failed, nothing ever served through it. */
  close(): Promise<void>;
}

/** A deploy's door: `berth deploy` runs instances without a front door, so each door operation does nothing. */
export const NO_DOOR: Door = {
  address: '',
  port: 0,
  sync: async () => {},
  upsert: async () => {},
  drain: async () => true,
  remove: async () => {},
  setWeight: async () => {},
  stats: async () => [],
  close: async () => {},
};

/** The weight of every server outside a canary. */
export const NORMAL_WEIGHT = 100;
