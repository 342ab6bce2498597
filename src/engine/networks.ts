import { guard, isNotFound } from './errors.js';
import type { EngineHttp } from './http.js';

/** The Engine API's network create body (what a planner produces as plain data). */
export interface NetworkCreateBody {
  Name: string;
  Driver: string;
  Options?: Record<string, string>;
  IPAM?: { Driver: 'default'; Config: IpamPool[] };
  Labels: Record<string, string>;
  CheckDuplicate: true;
}

export interface IpamPool {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  /** e.g. DefaultGatewayIPv4: the bridge driver's containers then route through it instead of the Gateway. */
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkState {
  id: string;
  name: string;
  driver: string;
  options: Record<string, string>;
  /** The first IPAM pool (Berth creates networks with one). */
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses: Record<string, string>;
  labels: Record<string, string>;
}

export class NetworkClient {
  constructor(
    private readonly http: EngineHttp,
    private readonly endpoint: string,
  ) {}

  async inspect(name: string): Promise<NetworkState | undefined> {
    let n: NetworkJson;
    try {
      n = await this.http.json<NetworkJson>('GET', `/networks/${encodeURIComponent(name)}`);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return guard(this.endpoint, `inspect network ${name}`, () => Promise.reject(error));
    }
    return networkState(n);
  }

  /** Creates the network; returns its ID. A name already taken is a conflict. */
  async create(body: NetworkCreateBody): Promise<string> {
    const created = await guard(this.endpoint, `create network ${body.Name}`, () => this.http.json<{ Id: string }>('POST', '/networks/create', { body }));
    return created.Id;
  }

  /** Removes a network by name or ID; an absent one is fine. */
  async remove(name: string): Promise<void> {
    try {
      await this.http.empty('DELETE', `/networks/${encodeURIComponent(name)}`);
    } catch (error) {
      if (isNotFound(error)) return;
      await guard(this.endpoint, `remove network ${name}`, () => Promise.reject(error));
    }
  }

  /** Networks matching every label filter, such as "berth.project=x". */
  async list(labels: string[]): Promise<NetworkState[]> {
    const list = await guard(this.endpoint, 'list networks', () => this.http.json<NetworkJson[]>('GET', '/networks', { query: { filters: { label: labels } } }));
    return list.map(networkState);
  }
}

interface NetworkJson {
  Id: string;
  Name: string;
  Driver: string;
  Options: Record<string, string> | null;
  IPAM: { Config: (Partial<IpamPool> & { AuxiliaryAddresses?: Record<string, string> | null })[] | null } | null;
  Labels: Record<string, string> | null;
}

function networkState(n: NetworkJson): NetworkState {
  const pool = n.IPAM?.Config?.[0];
  return {
    id: n.Id,
    name: n.Name,
    driver: n.Driver,
    options: n.Options ?? {},
    ...(pool?.Subnet ? { subnet: pool.Subnet } : {}),
    ...(pool?.Gateway ? { gateway: pool.Gateway } : {}),
    ...(pool?.IPRange ? { ipRange: pool.IPRange } : {}),
    auxAddresses: pool?.AuxiliaryAddresses ?? {},
    labels: n.Labels ?? {},
  };
}
