/**
 * The front door of a service in an environment: an HAProxy container on each
 * of its hosts (its members), its servers (the service's instances) and the
 * counters Berth reads from it. Plain data only.
 */

export type ServerState = 'ready' | 'drain' | 'maint';

export interface LbServer {
  /** The instance's slot, e.g. hello-node-production-2 (letters, digits, '.', '_', '-', ':'). */
  name: string;
  /** IPv4 or IPv6 address of the instance. */
  address: string;
  port: number;
  /** 0..256; requests are shared in proportion to the weights of the ready servers. */
  weight: number;
  /** ready: gets requests; drain: keeps its requests in flight, gets no new ones; maint: gets nothing. */
  state: ServerState;
}

export interface FrontDoorSpec {
  /** e.g. "production-hello-node"; used in file names and messages. */
  id: string;
  /** Where HAProxy listens on each member's host. */
  bind: { address: string; port: number };
  servers: LbServer[];
}

export type ResponseCounts = { '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };

export interface ServerStats {
  name: string;
  /** ip:port as HAProxy has it. */
  address: string;
  /** HAProxy's status: UP, DRAIN, MAINT, DOWN, "no check" (up, without health checks), … */
  status: string;
  /** The administrative state derived from the status. */
  state: ServerState;
  /** The weight set by Berth (HAProxy's uweight). */
  weight: number;
  /** Requests being served now (scur). */
  current: number;
  /** Requests sent to it since HAProxy started (stot), including attempts that failed. */
  total: number;
  /** HTTP requests (req_tot where HAProxy counts it per server, else stot). */
  requests: number;
  responses: ResponseCounts;
  errors: {
    /** Connections to it that failed (econ). */
    connect: number;
    /** Responses that failed or were cut (eresp). */
    response: number;
    /** Attempts on it that failed and were tried again (wretr), and requests sent on to another server (wredis): clients never saw these failures. */
    retried: number;
    redispatched: number;
  };
}

/** The frontend (what clients saw) or the backend as a whole. */
export interface ProxyStats {
  /** OPEN for the frontend; UP or DOWN for the backend. */
  status: string;
  current: number;
  total: number;
  requests: number;
  responses: ResponseCounts;
  errors: {
    /** Frontend: bad requests (ereq). Backend: failed connections (econ). */
    request: number;
    connect: number;
    response: number;
  };
  /** Backend: requests retried (wretr) and sent to another server (wredis). */
  retries: number;
  redispatches: number;
}

export interface StatsSnapshot {
  frontend: ProxyStats;
  backend: ProxyStats;
  servers: ServerStats[];
}

/** One member of a door: its container on one host. */
export interface DoorMemberStatus {
  host: string;
  /** The container's name on that host. */
  container: string;
  /** running, restarting, exited, missing (no container), unknown (the host did not answer). */
  state: string;
  /** MASTER: it holds the shared address; BACKUP: ready to take it; '' for a door without a shared address. */
  role: '' | 'MASTER' | 'BACKUP';
  /** keepalived's container on that host, for a door behind a shared address: running, restarting, exited, missing. */
  keepalived?: string;
  /** HAProxy's counters in this member since it started. */
  frontend: ProxyStats;
  backend: ProxyStats;
  servers: ServerStats[];
  /** Why the counters are missing although the container runs. */
  problem?: string;
}

export interface FrontDoorStatus {
  id: string;
  /** address:port clients connect to: the shared address where there is one. */
  address: string;
  /** At least one member runs. */
  running: boolean;
  /** The servers with their counters summed over the members (empty when none runs). */
  servers: ServerStats[];
  /** Counters since each HAProxy started, summed over the members (zeros when none runs). */
  frontend: ProxyStats;
  backend: ProxyStats;
  members: DoorMemberStatus[];
  /** Why the counters of a running member are missing (its admin socket does not answer). */
  problem?: string;
}
