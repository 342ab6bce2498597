/** Instance identity and placement, as plain data: no engine, no store. */

/** A slot is `<service>-<env>-<n>`: the container's name and hostname, and the owner of its address. */
export function slotName(service: string, environment: string, ordinal: number): string {
  return `${service}-${environment}-${ordinal}`;
}

export interface Placement {
  slot: string;
  ordinal: number;
  host: string;
}

/**
 * Slots 1..replicas, each on a host of the environment. A slot stays where it
 * was placed while its host is still in the environment (it keeps its address
 * there); new or displaced slots go to the host with the fewest, in the
 * environment's order.
 */
export function placeSlots(service: string, environment: string, replicas: number, hosts: readonly string[], previous: ReadonlyMap<string, string>): Placement[] {
  const load = new Map(hosts.map((h) => [h, 0]));
  const placements: Placement[] = [];
  const unplaced: number[] = [];
  for (let ordinal = 1; ordinal <= replicas; ordinal++) {
    const slot = slotName(service, environment, ordinal);
    const host = previous.get(slot);
    if (host !== undefined && load.has(host)) {
      load.set(host, load.get(host)! + 1);
      placements.push({ slot, ordinal, host });
    } else unplaced.push(ordinal);
  }
  for (const ordinal of unplaced) {
    const host = hosts.reduce((best, h) => (load.get(h)! < load.get(best)! ? h : best), hosts[0]!);
    load.set(host, load.get(host)! + 1);
    placements.push({ slot: slotName(service, environment, ordinal), ordinal, host });
  }
  return placements.sort((a, b) => a.ordinal - b.ordinal);
}
