import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { tolerantWriter } from './output.js';
import { backendState } from './commands/lb.js';
import type { InstanceStatus } from '../runtime/instances.js';

describe('output to a terminal or pipe that went away', () => {
  it('after a failed write (EPIPE) nothing more is written, and nothing throws', async () => {
    const written: string[] = [];
    let fail = false;
    const stream = new Writable({
      write(chunk, _encoding, done) {
        if (fail) return done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        written.push(String(chunk));
        done();
      },
    });
    const write = tolerantWriter(stream as unknown as NodeJS.WriteStream);
    write('[1/4] front door\n');
    fail = true;
    write('[2/4] drain\n');
    await new Promise((resolve) => setImmediate(resolve));
    write('[3/4] replace\n');
    write('done\n');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(written, ['[1/4] front door\n']);
  });
});

describe('a front door backend as berth lb shows it', () => {
  const instance = (state: string) => ({ state }) as InstanceStatus;
  it('is missing without a container, stopped when its container does not run, unknown on a host that did not answer, else what HAProxy says', () => {
    assert.equal(backendState('ready', undefined), 'missing');
    assert.equal(backendState('ready', instance('unknown')), 'unknown');
    assert.equal(backendState('ready', instance('exited')), 'stopped');
    assert.equal(backendState('drain', instance('running')), 'drain');
  });
});
