/** What an audit entry keeps of a request: named fields, each value cut to a few hundred bytes with its size stated. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedEntry, boundedParams, boundedValue, FIELDS_MAX, TEXT_MAX, unreadBody, VALUE_MAX_BYTES } from './audit-bounds.js';

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('the bounded form of a request in the audit log', () => {
  it('keeps small values as they are', () => {
    const params = { environment: 'production', replicas: 3, force: true, image: null, to: ['h1', 'h2'], push: { registry: 'r:5000' } };
    assert.deepEqual(boundedParams(params), params);
  });

  it('cuts a long string to its start and states its size', () => {
    const cut = boundedValue('x'.repeat(31_457_280)) as string;
    assert.equal(cut, `${'x'.repeat(VALUE_MAX_BYTES / 2)}… <31457280 bytes, cut>`);
    // Sizes are bytes, not characters; a surrogate pair is never split.
    const emoji = boundedValue('😀'.repeat(200)) as string;
    assert.match(emoji, /… <800 bytes, cut>$/);
    assert.equal(emoji.startsWith('😀'.repeat(VALUE_MAX_BYTES / 4)), true);
    assert.doesNotMatch(emoji, /\uFFFD/);
    assert.equal(JSON.stringify(emoji).includes('\\ud'), false);
  });

  it('keeps the first items of a long array, then says how many more and how large it was', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `images/app/file-${i}.txt`);
    const cut = boundedValue(names) as string[];
    assert.deepEqual(cut.slice(0, 3), names.slice(0, 3));
    const kept = cut.length - 1;
    assert.equal(cut.at(-1), `<${1000 - kept} more of 1000 items, ${jsonBytes(names)} bytes in all, cut>`);
    assert.ok(jsonBytes(cut.slice(0, -1)) <= VALUE_MAX_BYTES);
  });

  it('states the size of a large object instead of its content', () => {
    const nested = { a: 'y'.repeat(400), b: 1 };
    assert.equal(boundedValue(nested), `<object of 2 fields, ${jsonBytes(nested)} bytes, cut>`);
  });

  it('keeps at most FIELDS_MAX fields, counts the rest, and cuts long field names', () => {
    const many = Object.fromEntries(Array.from({ length: FIELDS_MAX + 5 }, (_, i) => [`f${i}`, i]));
    const bounded = boundedParams(many);
    assert.equal(Object.keys(bounded).length, FIELDS_MAX + 1);
    assert.equal(bounded['…'], '<5 more fields>');
    const longName = boundedParams({ ['k'.repeat(10_000)]: 1 });
    assert.deepEqual(Object.keys(longName).map((k) => k.length), [65]);
  });

  it('bounds a whole entry: the worst a request can send stays within a few kilobytes', () => {
    const huge = 'z'.repeat(100_000);
    const hostile = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${huge}${i}`, { deep: [huge, huge] }]));
    const entry = boundedEntry({ actor: huge, action: huge, target: huge, params: { ...hostile, body: huge }, outcome: huge });
    assert.ok(jsonBytes(entry) < FIELDS_MAX * (64 + VALUE_MAX_BYTES + 200) + 4 * (TEXT_MAX + 10), `${jsonBytes(entry)} bytes`);
    assert.equal(entry.actor, `${'z'.repeat(TEXT_MAX)}…`);
  });

  it('states the size of a body that was not read', () => {
    assert.equal(unreadBody('31457280', 65536, true), '<31457280 bytes, not read: over the limit of 65536>');
    assert.equal(unreadBody(undefined, 65536, true), '<more than 65536 bytes, not read>');
    assert.equal(unreadBody('120', undefined, false), '<120 bytes, not read>');
    assert.equal(unreadBody(undefined, undefined, false), '<a body of unknown size, not read>');
  });
});
