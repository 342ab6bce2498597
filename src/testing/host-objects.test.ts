import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardRule, mountsUnder } from './host-objects.js';

describe('mountsUnder', () => {
  it('lists the mount points at or under a folder, deepest first, with escaped spaces decoded and no sibling', () => {
    const mountinfo = [
      '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '92 26 254:0 /tmp/t/lab/h1/data /tmp/t/lab/h1/data rw,relatime shared:7 - ext4 /dev/vda rw',
      '93 92 0:50 / /tmp/t/lab/h1/data/overlay2/abc/merged rw,relatime - overlay overlay rw',
      '94 26 0:4 net:[4026532406] /tmp/t/lab/h1/a\\040b rw - nsfs nsfs rw',
      '95 26 254:0 /tmp/tx /tmp/tx rw - ext4 /dev/vda rw',
      '',
    ].join('\n');
    assert.deepEqual(mountsUnder('/tmp/t', mountinfo), ['/tmp/t/lab/h1/data/overlay2/abc/merged', '/tmp/t/lab/h1/data', '/tmp/t/lab/h1/a b']);
  });
});

describe('forwardRule', () => {
  it('accepts only traffic that stays on the bridge, and says whose rule it is', () => {
    assert.deepEqual(forwardRule('lb0123abcd'), ['FORWARD', '-i', 'lb0123abcd', '-o', 'lb0123abcd', '-m', 'comment', '--comment', 'berth lab lb0123abcd', '-j', 'ACCEPT']);
  });
});
