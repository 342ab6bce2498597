import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyRetention, formatAge } from './retention.js';

const DAY = 86_400_000;
const now = 100 * DAY;
const build = (image: string, key: string, daysAgo: number) => ({ image, key, builtAt: now - daysAgo * DAY });

describe('retention', () => {
  it('keeps the current build, the N most recent and the young ones; the rest may go', () => {
    const builds = [build('app', 'k1', 40), build('app', 'k2', 30), build('app', 'k3', 20), build('app', 'k4', 10), build('app', 'k5', 1), build('base', 'b1', 50)];
    const decisions = applyRetention({ builds, current: new Map([['app', 'k1'], ['base', 'b1']]), settings: { keepLast: 2, keepYoungerThanMs: 14 * DAY, keepReleases: 3 }, now });
    const byKey = Object.fromEntries(decisions.map((d) => [d.key, d]));
    assert.deepEqual(byKey.k1!.reasons, ['current build']);
    assert.deepEqual(byKey.k2!.reasons, []);
    assert.equal(byKey.k2!.keep, false);
    assert.equal(byKey.k3!.keep, false);
    assert.deepEqual(byKey.k4!.reasons, ['one of the 2 most recent builds of app', 'younger than 14d']);
    assert.deepEqual(byKey.k5!.reasons, ['one of the 2 most recent builds of app', 'younger than 14d']);
    assert.deepEqual(byKey.b1!.reasons, ['current build', 'one of the 2 most recent builds of base']);
  });

  it('keeps nothing extra with keep_last 1 and keep_younger_than 0s, except the newest', () => {
    const decisions = applyRetention({ builds: [build('a', 'x', 2), build('a', 'y', 1)], current: new Map(), settings: { keepLast: 1, keepYoungerThanMs: 0, keepReleases: 3 }, now });
    assert.deepEqual(decisions.map((d) => [d.key, d.keep]), [['y', true], ['x', false]]);
  });

  it('formats ages as berth.yaml writes them', () => {
    assert.equal(formatAge(14 * DAY), '14d');
    assert.equal(formatAge(90 * 60_000), '90m');
    assert.equal(formatAge(1500), '1500ms');
  });
});
