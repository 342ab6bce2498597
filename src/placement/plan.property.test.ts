/**
 * Property-style: random fleets and services (a seeded generator, so a failure
 * names the seed that reproduces it), checked against the planner's rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPlacement, type PlacementHost, type PlacementInput, type SlotRequest } from './plan.js';
import { prng } from '../testing/prng.js';

const GIB = 1024 ** 3;
const ROUNDS = 300;


function fleet(seed: number): PlacementInput {
  const rnd = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const hosts: PlacementHost[] = Array.from({ length: 1 + Math.floor(rnd() * 12) }, (_, i) => {
    const roll = rnd();
    return { name: `h${i}`, cpus: pick([1, 2, 4, 8]), memoryBytes: pick([1, 2, 8, 16]) * GIB, labels: (rnd() < 0.8 ? { rack: pick(['r1', 'r2', 'r3']) } : {}) as Record<string, string>, state: roll < 0.1 ? 'draining' : roll < 0.2 ? 'unreachable' : 'ready' };
  });
  const slots: SlotRequest[] = [];
  for (let s = 0; s < 1 + Math.floor(rnd() * 5); s++) {
    const candidates = hosts.filter(() => rnd() < 0.7).map((h) => h.name);
    const spec = { service: `svc${s}`, environment: 'prod', cpus: pick([0, 0.25, 0.5, 1, 2]), memoryBytes: pick([0, 0.25, 1]) * GIB, hosts: candidates.length > 0 ? candidates : [hosts[0]!.name], labels: (rnd() < 0.3 ? { rack: pick(['r1', 'r2', 'r3']) } : {}) as Record<string, string> };
    for (let n = 1; n <= 1 + Math.floor(rnd() * 8); n++) slots.push({ slot: `svc${s}-prod-${n}`, ...spec });
  }
  return { hosts, reserved: [], slots };
}

const carries = (h: PlacementHost, labels: Readonly<Record<string, string>>) => Object.entries(labels).every(([k, v]) => h.labels[k] === v);

/** What each host holds once the plan is applied. */
function usage(input: PlacementInput, placements: { slot: string; host: string }[]) {
  const bySlot = new Map(input.slots.map((s) => [s.slot, s]));
  const used = new Map(input.hosts.map((h) => [h.name, { cpu: 0, mem: 0, groups: new Map<string, number>() }]));
  for (const p of placements) {
    const s = bySlot.get(p.slot)!;
    const u = used.get(p.host)!;
    u.cpu += Math.round(s.cpus * 1000);
    u.mem += s.memoryBytes;
    u.groups.set(s.service, (u.groups.get(s.service) ?? 0) + 1);
  }
  return used;
}

function hasRoom(h: PlacementHost, u: { cpu: number; mem: number }, s: SlotRequest): boolean {
  return u.cpu + Math.round(s.cpus * 1000) <= h.cpus * 1000 && u.mem + s.memoryBytes <= h.memoryBytes;
}

describe('placement plan, on random fleets', () => {
  it('never goes over a host\'s capacity, never breaks a constraint, never uses a host that is not ready, and spreads when it can', () => {
    for (let seed = 1; seed <= ROUNDS; seed++) {
      const input = fleet(seed);
      const plan = planPlacement(input);
      const hosts = new Map(input.hosts.map((h) => [h.name, h]));
      const used = usage(input, plan.placements);
      const bySlot = new Map(input.slots.map((s) => [s.slot, s]));
      for (const p of plan.placements) {
        const s = bySlot.get(p.slot)!;
        const h = hosts.get(p.host)!;
        assert.ok(s.hosts.includes(p.host), `seed ${seed}: ${p.slot} on ${p.host}, not one of its hosts`);
        assert.equal(h.state, 'ready', `seed ${seed}: ${p.slot} on ${p.host}, which is ${h.state}`);
        assert.ok(carries(h, s.labels), `seed ${seed}: ${p.slot} on ${p.host} without its labels`);
      }
      for (const h of input.hosts) {
        const u = used.get(h.name)!;
        assert.ok(u.cpu <= h.cpus * 1000 && u.mem <= h.memoryBytes, `seed ${seed}: ${h.name} over capacity`);
      }
      // Spread: a host never holds two more of a service than another eligible host that still has room for one.
      const eligible = (s: SlotRequest) => s.hosts.map((n) => hosts.get(n)!).filter((h) => h.state === 'ready' && carries(h, s.labels));
      for (const s of input.slots) {
        for (const full of eligible(s)) {
          for (const other of eligible(s)) {
            const a = used.get(full.name)!.groups.get(s.service) ?? 0;
            const b = used.get(other.name)!.groups.get(s.service) ?? 0;
            if (a >= b + 2) assert.ok(!hasRoom(other, used.get(other.name)!, s), `seed ${seed}: ${s.service} has ${a} on ${full.name} and ${b} on ${other.name}, which has room`);
          }
        }
      }
      // Every slot is placed or named in a problem, and a named one really had no eligible host with room.
      const failed = plan.problems.flatMap((p) => p.slots);
      assert.equal(plan.placements.length + failed.length, input.slots.length, `seed ${seed}`);
      for (const slot of failed) {
        const s = bySlot.get(slot)!;
        for (const h of eligible(s)) assert.ok(!hasRoom(h, used.get(h.name)!, s), `seed ${seed}: ${slot} unplaced though ${h.name} has room`);
      }
      assert.deepEqual(planPlacement(input), plan, `seed ${seed}: not deterministic`);
    }
  });

  it('keeps every slot that may stay, and moves every slot that must leave off its host', () => {
    for (let seed = 1; seed <= ROUNDS; seed++) {
      const first = fleet(seed);
      const placed = planPlacement(first).placements;
      const rnd = prng(seed * 7919);
      const leaving = new Set(first.hosts.filter(() => rnd() < 0.25).map((h) => h.name));
      const current = new Map(placed.map((p) => [p.slot, p.host]));
      const input: PlacementInput = {
        hosts: first.hosts.map((h) => (leaving.has(h.name) ? { ...h, state: 'draining' } : h)),
        reserved: [],
        slots: first.slots.map((s) => {
          const host = current.get(s.slot);
          return host === undefined ? s : { ...s, current: host, leave: leaving.has(host) };
        }),
      };
      const plan = planPlacement(input);
      const now = new Map(plan.placements.map((p) => [p.slot, p]));
      for (const s of input.slots) {
        if (s.current === undefined) continue;
        const p = now.get(s.slot);
        if (s.leave) assert.ok(p === undefined || p.host !== s.current, `seed ${seed}: ${s.slot} stayed on ${s.current}, which it must leave`);
        else assert.equal(p?.host, s.current, `seed ${seed}: ${s.slot} moved off ${s.current} without a reason`);
      }
      for (const h of input.hosts) {
        const u = usage(input, plan.placements).get(h.name)!;
        assert.ok(u.cpu <= h.cpus * 1000 && u.mem <= h.memoryBytes, `seed ${seed}: ${h.name} over capacity`);
      }
    }
  });
});
