import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainRefused, moveRefused, movesOff, planMoves, planMovesAcross, type SlotOnHost } from './move-plan.js';
import type { PlacementHost, Reservation, SlotRequest } from '../placement/plan.js';

const ordinal = (slot: string) => Number(slot.split('-').at(-1));
const on = (host: string, ...ordinals: number[]): SlotOnHost[] => ordinals.map((n) => ({ slot: `web-prod-${n}`, ordinal: n, host }));

const GIB = 1024 ** 3;
const host = (name: string, extra: Partial<PlacementHost> = {}): PlacementHost => ({ name, cpus: 2, memoryBytes: 4 * GIB, labels: {}, state: 'ready', ...extra });
/** Slots of `service` in prod on the hosts given in slot order, asked to leave `leave`. */
const group = (service: string, hosts: string[], where: string[], extra: Omit<Partial<SlotRequest>, 'leave'> & { leave?: string } = {}): SlotRequest[] => {
  const { leave, ...rest } = extra;
  return where.map((current, i) => ({ slot: `${service}-prod-${i + 1}`, service, environment: 'prod', cpus: 0, memoryBytes: 0, hosts, labels: {}, current, ...(current === leave ? { leave: true } : {}), ...rest }));
};

test('movesOff: the slots the placement puts elsewhere, in slot order, each to its planned host', () => {
  const planned: Record<string, string> = { 'web-prod-2': 'h3', 'web-prod-5': 'h1', 'web-prod-6': 'h2' };
  assert.deepEqual([...movesOff([...on('h2', 6, 5), ...on('h2', 2)], (slot) => planned[slot]!)], [['web-prod-2', 'h3'], ['web-prod-5', 'h1']]);
});

test('a drain goes where the planner says: spread over the ready hosts, never a draining one', () => {
  const hosts = ['h1', 'h2', 'h3', 'h4'];
  const web = group('web', hosts, ['h1', 'h2', 'h2', 'h3'], { leave: 'h2' });
  const plan = planMovesAcross([host('h1'), host('h2', { state: 'draining' }), host('h3'), host('h4', { state: 'draining' })], [], [web]);
  assert.deepEqual(plan.problems, []);
  assert.deepEqual([...plan.moves[0]!], [['web-prod-2', 'h1'], ['web-prod-3', 'h3']]);
});

test('a drain takes capacity and labels into account: only the host with room and the label takes the slots', () => {
  const hosts = ['h1', 'h2', 'h3', 'h4'];
  const web = group('web', hosts, ['h2', 'h2'], { leave: 'h2', cpus: 1, labels: { disk: 'ssd' } });
  const reserved: Reservation[] = [{ host: 'h1', service: 'db', environment: 'prod', cpus: 2, memoryBytes: 0 }];
  const fleet = [host('h1', { labels: { disk: 'ssd' } }), host('h2', { labels: { disk: 'ssd' }, state: 'draining' }), host('h3'), host('h4', { labels: { disk: 'ssd' } })];
  const plan = planMovesAcross(fleet, reserved, [web]);
  assert.deepEqual(plan.problems, []);
  assert.deepEqual([...plan.moves[0]!], [['web-prod-1', 'h4'], ['web-prod-2', 'h4']]);
});

test('the services of a drain are planned one after the other: the second sees where the first went', () => {
  const hosts = ['h1', 'h2', 'h3'];
  const a = group('a', hosts, ['h2'], { leave: 'h2', cpus: 1 });
  const b = group('b', hosts, ['h2'], { leave: 'h2', cpus: 1 });
  const fleet = [host('h1', { cpus: 1 }), host('h2', { state: 'draining' }), host('h3', { cpus: 1 })];
  const plan = planMovesAcross(fleet, [], [a, b]);
  assert.deepEqual(plan.moves.map((m) => [...m]), [[['a-prod-1', 'h1']], [['b-prod-1', 'h3']]]);
});

test('an impossible drain: the planner names what is short where, and the refusal says the host stays draining and how to undo it', () => {
  const hosts = ['h1', 'h2'];
  const web = group('web', hosts, ['h2', 'h2'], { leave: 'h2', cpus: 1 });
  const plan = planMovesAcross([host('h1', { cpus: 1 }), host('h2', { state: 'draining' })], [], [web]);
  assert.deepEqual(plan.moves.map((m) => m.size), [0]);
  assert.equal(plan.problems.length, 1);
  const e = drainRefused('h2', plan.problems);
  assert.equal(e.kind, 'conflict');
  assert.equal(e.message, `cannot drain h2: ${plan.problems[0]!.message}`);
  assert.match(e.message, /web in prod needs room for 1 more instance\(s\) with 1 CPU free.*h1 \(0 CPU free\), h2 \(draining\)/);
  assert.deepEqual(e.lines, ['nothing moved; h2 stays draining, so it gets no new instances']);
  assert.match(e.fix!, /berth host undrain h2$/);
});

test('berth move --to is a pin the planner checks: it moves there when it fits', () => {
  const hosts = ['h1', 'h2'];
  const web = group('web', hosts, ['h1', 'h2']).map((r) => (r.slot === 'web-prod-1' ? { ...r, pin: 'h2' } : r));
  assert.deepEqual([...planMovesAcross([host('h1'), host('h2')], [], [web]).moves[0]!], [['web-prod-1', 'h2']]);
});

test('berth move --to a host without the labels or without room is refused with the planner\'s message', () => {
  const hosts = ['h1', 'h2'];
  const pinned = (extra: Omit<Partial<SlotRequest>, 'leave'>) => group('web', hosts, ['h1'], extra).map((r) => ({ ...r, pin: 'h2' }));
  const labels = planMovesAcross([host('h1', { labels: { zone: 'a' } }), host('h2', { labels: { zone: 'b' } })], [], [pinned({ labels: { zone: 'a' } })]);
  assert.deepEqual(labels.moves.map((m) => m.size), [0]);
  const refused = moveRefused(labels.problems[0]!, 'h2');
  assert.equal(refused.kind, 'conflict');
  assert.equal(refused.message, 'cannot move web-prod-1 to h2: h2 does not carry zone=a (zone=b)');
  const reserved: Reservation[] = [{ host: 'h2', service: 'db', environment: 'prod', cpus: 1.5, memoryBytes: 0 }];
  const room = planMovesAcross([host('h1'), host('h2')], reserved, [pinned({ cpus: 1 })]);
  assert.equal(moveRefused(room.problems[0]!, 'h2').message, 'cannot move web-prod-1 to h2: it needs 1 CPU free and h2 has 0.5 CPU');
});

test('moves run in batches of drain then replace on the new host, between the front door and converge', () => {
  const moves = new Map([['web-prod-5', 'h1'], ['web-prod-2', 'h3'], ['web-prod-6', 'h3']]);
  assert.deepEqual(planMoves(moves, 6, { batchSize: 2, maxUnavailable: 3 }, ordinal), [
    { op: 'front-door' },
    { op: 'drain', slots: ['web-prod-2', 'web-prod-5'] },
    { op: 'replace', slots: ['web-prod-2', 'web-prod-5'], to: { 'web-prod-2': 'h3', 'web-prod-5': 'h1' } },
    { op: 'drain', slots: ['web-prod-6'] },
    { op: 'replace', slots: ['web-prod-6'], to: { 'web-prod-6': 'h3' } },
    { op: 'converge', replicas: 6 },
  ]);
});

test('a batch is at most max_unavailable, and one slot when that is 0 (a moved slot cannot surge)', () => {
  const moves = new Map([['web-prod-1', 'h2'], ['web-prod-2', 'h2']]);
  const batches = (maxUnavailable: number) => planMoves(moves, 2, { batchSize: 4, maxUnavailable }, ordinal).filter((s) => s.op === 'replace').length;
  assert.equal(batches(1), 2);
  assert.equal(batches(0), 2);
  assert.equal(batches(2), 1);
});

test('nothing to move is no plan at all', () => {
  assert.deepEqual(planMoves(new Map(), 3, { batchSize: 1, maxUnavailable: 1 }, ordinal), []);
});
