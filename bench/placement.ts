/**
 * Placement benchmark (issue 11): Berth's planner (src/placement/plan.ts)
 * places 1,000 instances of 50 services (20 each, CPU and memory reservations,
 * a fifth of them with a label constraint) over 200 simulated hosts, against a
 * naive first-fit (each instance on the first host in order with room and the
 * labels, no spread) on the same input in the same run; then the same 1,000
 * instances over 20 and 2,000 hosts, to show how the time grows. A second
 * case re-plans with every instance already placed (what each rollout does).
 *
 * The hosts' capacity comes from FakeEngines (src/testing/fake-engine.ts, the
 * engine in memory that the contract suite keeps honest), each answering info()
 * with its CPUs and memory. Times are of the planning alone (plain data in, plain data out), median
 * of repeated runs after warm-ups, rounds alternating which contender goes first.
 * Writes its figures to BENCHMARKS.md. Run: npm run bench:placement -- [--runs N]
 */
import { loadavg } from 'node:os';
import { planPlacement, type PlacementHost, type PlacementInput, type SlotPlacement, type SlotRequest } from '../src/placement/plan.js';
import { FakeEngine } from '../src/testing/fake-engine.js';
import { machine, median, positiveFlag, rotated, writeSection } from './lib.js';

const RUNS = positiveFlag('--runs') ?? 51;
const WARMUPS = 20;
const SERVICES = 50;
const PER_SERVICE = 20;
const HOST_COUNTS = [20, 200, 2000];
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** The same fleet for the same size: capacities and racks by position. */
async function fleet(size: number): Promise<PlacementHost[]> {
  const engines = Array.from({ length: size }, (_, i) => new FakeEngine({ endpoint: `fake://host-${i}`, cpus: [16, 32, 48][i % 3]!, memoryBytes: [64, 128][i % 2]! * GIB }));
  const infos = await Promise.all(engines.map((e) => e.info()));
  return infos.map(({ cpus, memoryBytes }, i) => ({ name: `host-${i}`, cpus, memoryBytes, labels: { rack: `r${i % 4}` }, state: i % 50 === 49 ? 'draining' : 'ready' }));
}

function workload(hosts: readonly PlacementHost[]): SlotRequest[] {
  const names = hosts.map((h) => h.name);
  const slots: SlotRequest[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const spec = { service: `svc${s}`, environment: 'production', cpus: [0.1, 0.25, 0.5][s % 3]!, memoryBytes: [128, 256, 512][s % 3]! * MIB, hosts: names, labels: (s % 5 === 0 ? { rack: `r${s % 4}` } : {}) as Record<string, string> };
    for (let n = 1; n <= PER_SERVICE; n++) slots.push({ slot: `svc${s}-production-${n}`, ...spec });
  }
  return slots;
}

/** The naive baseline: first host in order that is ready, carries the labels and has room. */
function firstFit(input: PlacementInput): SlotPlacement[] {
  const used = new Map(input.hosts.map((h) => [h.name, { cpu: 0, mem: 0 }]));
  const byName = new Map(input.hosts.map((h) => [h.name, h]));
  const out: SlotPlacement[] = [];
  for (const s of input.slots) {
    const cpu = Math.round(s.cpus * 1000);
    for (const name of s.hosts) {
      const h = byName.get(name)!;
      const u = used.get(name)!;
      if (h.state !== 'ready' || !Object.entries(s.labels).every(([k, v]) => h.labels[k] === v)) continue;
      if (u.cpu + cpu > h.cpus * 1000 || u.mem + s.memoryBytes > h.memoryBytes) continue;
      u.cpu += cpu;
      u.mem += s.memoryBytes;
      out.push({ slot: s.slot, host: name, reason: 'new', note: '' });
      break;
    }
  }
  return out;
}

function timeIt(work: () => unknown): number {
  const t0 = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface Timing {
  median: number;
  min: number;
}

/** Median and fastest of each contender over RUNS rounds, the order rotating each round. */
function race(contenders: Record<string, () => unknown>): Record<string, Timing> {
  const names = Object.keys(contenders);
  for (let i = 0; i < WARMUPS; i++) for (const n of names) contenders[n]!();
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  for (let round = 0; round < RUNS; round++) for (const n of rotated(names, round)) times[n]!.push(timeIt(contenders[n]!));
  return Object.fromEntries(names.map((n) => [n, { median: median(times[n]!), min: Math.min(...times[n]!) }]));
}

/** How evenly a plan spreads: the most instances of one service on one host, and hosts used. */
function spread(placements: readonly SlotPlacement[]): { worst: number; hosts: number } {
  const counts = new Map<string, number>();
  for (const p of placements) {
    const key = `${p.slot.slice(0, p.slot.indexOf('-'))}@${p.host}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { worst: Math.max(0, ...counts.values()), hosts: new Set(placements.map((p) => p.host)).size };
}

const fine = (value: number) => (value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`);
const both = (t: Timing) => `${fine(t.median)} (${fine(t.min)})`;

async function main() {
  const loadAtStart = loadavg();
  const rows: string[] = [];
  const growth: { hosts: number; berth: number; firstFit: number; replan: number }[] = [];
  for (const size of HOST_COUNTS) {
    const hosts = await fleet(size);
    const input: PlacementInput = { hosts, reserved: [], slots: workload(hosts) };
    const plan = planPlacement(input);
    const naive = firstFit(input);
    const current = new Map(plan.placements.map((p) => [p.slot, p.host]));
    const replanInput: PlacementInput = { ...input, slots: input.slots.map((s) => ({ ...s, ...(current.has(s.slot) ? { current: current.get(s.slot)! } : {}) })) };
    const t = race({ berth: () => planPlacement(input), firstFit: () => firstFit(input), replan: () => planPlacement(replanInput) });
    growth.push({ hosts: size, berth: t.berth!.median, firstFit: t.firstFit!.median, replan: t.replan!.median });
    const a = spread(plan.placements);
    const b = spread(naive);
    rows.push(
      `| ${size.toLocaleString('en')} | ${both(t.berth!)} | ${both(t.replan!)} | ${both(t.firstFit!)} | ${(t.berth!.median / t.firstFit!.median).toFixed(1)}× (${(t.berth!.min / t.firstFit!.min).toFixed(1)}×) | ${plan.placements.length} placed, ${plan.problems.length} problem(s); ≤ ${a.worst} of a service per host; ${a.hosts} hosts used | ${naive.length} placed; ≤ ${b.worst} of a service per host; ${b.hosts} hosts used |`,
    );
  }
  const at200 = growth.find((g) => g.hosts === 200)!;
  const load = (values: number[]) => values.map((l) => l.toFixed(1)).join(' / ');
  const lines = [
    '## Placement (issue 11)',
    '',
    `Reproduce: \`npm run bench:placement\` (\`node dist/bench/placement.js\`). Machine: ${machine()}.`,
    '',
    `${SERVICES * PER_SERVICE} instances of ${SERVICES} services (${PER_SERVICE} each; 0.1, 0.25 or 0.5 CPU and 128, 256 or 512 MiB reserved; every fifth service constrained to one of 4 racks) planned over simulated hosts of 16, 32 or 48 CPUs and 64 or 128 GiB (one in 50 draining). ` +
      `The hosts' capacity comes from \`FakeEngine\`s (src/testing/fake-engine.ts, the engine in memory that the engine contract suite keeps honest), each answering \`info()\` with its CPUs and memory. ` +
      `Times are of the planning alone (plain data in, plain data out; the real inventory is gathered from the engines in parallel before it), median (and fastest) of ${RUNS} runs after ${WARMUPS} warm-ups, the contenders alternating which goes first; the machine's load average (1 / 5 / 15 min) was ${load(loadAtStart)} at the start and ${load(loadavg())} at the end, shared with other work, so single runs vary by several times: a median can move by 2–3× from one run to the next while the fastest stays put, so the ratio of the fastest runs is the one to compare across days. ` +
      '"Re-plan" is the same 1,000 with every instance already on a host (what each rollout plans: all kept). First-fit puts each instance on the first host in order that is ready, carries its labels and has room, with no spread.',
    '',
    '| hosts | Berth: plan from nothing | Berth: re-plan, all placed | naive first-fit | Berth ÷ first-fit, medians (fastest) | Berth\'s plan | first-fit\'s plan |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Growth from 20 to 200 to 2,000 hosts (×10 each): Berth ${growth.map((g) => fine(g.berth)).join(' → ')} (${(growth[1]!.berth / growth[0]!.berth).toFixed(1)}×, ${(growth[2]!.berth / growth[1]!.berth).toFixed(1)}×); each instance looks at its eligible hosts in order until one is empty and holds none of its service (at worst at all of them, once); ` +
      `first-fit ${growth.map((g) => fine(g.firstFit)).join(' → ')} (${(growth[1]!.firstFit / growth[0]!.firstFit).toFixed(1)}×, ${(growth[2]!.firstFit / growth[1]!.firstFit).toFixed(1)}×; it stops at the first host with room).`,
    '',
    `Target: under 100 ms for 1,000 instances over 200 hosts. **${at200.berth < 100 ? 'Met' : 'Not met'}**: ${fine(at200.berth)}.`,
  ];
  writeSection('placement', lines.join('\n'));
  console.log(lines.join('\n'));
}

await main();
