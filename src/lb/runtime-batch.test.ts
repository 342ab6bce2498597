import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { batchScript, changeCommands, removalCommands, splitBatchOutput } from './runtime-batch.js';

describe('a batch of runtime API commands in one exec', () => {
  it('splits the output into one answer per command, empty answers and answers without a final newline included', () => {
    const output = '\n@@berth-door-answer 0\nNew server registered.\n\n\n@@berth-door-answer 0\nNo such server.\n@@berth-door-answer 0\n\n@@berth-door-answer 1\n';
    assert.deepEqual(splitBatchOutput(output, 4), [
      { text: '', status: 0 },
      { text: 'New server registered.', status: 0 },
      { text: 'No such server.', status: 0 },
      { text: '', status: 1 },
    ]);
    assert.throws(() => splitBatchOutput(output, 5), /answered 4 of 5/);
  });

  it('runs each command on its own connection with sh, in order, each answer marked with socat\'s status', () => {
    // The same script with a stand-in socat that answers the command it read.
    const script = batchScript('/run/berth-door/admin.sock').replace('socat -t 10 - UNIX-CONNECT:/run/berth-door/admin.sock', 'sed "s/^/answer: /"');
    const output = execFileSync('sh', ['-c', script, 'berth-door-batch', 'set weight be/a 1', 'show stat', "it's; quoted"], { encoding: 'utf8' });
    assert.deepEqual(splitBatchOutput(output, 3), [
      { text: 'answer: set weight be/a 1', status: 0 },
      { text: 'answer: show stat', status: 0 },
      { text: "answer: it's; quoted", status: 0 },
    ]);
  });

  it('turns planned changes into commands: a new server enabled unless in maintenance, a removal first to maintenance', () => {
    const texts = [
      ...changeCommands({ op: 'add', server: { name: 'a', address: 'fd00::4', port: 80, weight: 3, state: 'drain' } }),
      ...changeCommands({ op: 'add', server: { name: 'b', address: '10.0.0.2', port: 80, weight: 3, state: 'maint' } }),
      ...changeCommands({ op: 'remove', name: 'c' }),
    ].map((c) => c.text);
    assert.deepEqual(texts, ['add server be/a [fd00::4]:80 weight 3', 'set server be/a state drain', 'add server be/b 10.0.0.2:80 weight 3', 'set server be/c state maint']);
    const [maint] = changeCommands({ op: 'remove', name: 'c' });
    assert.equal(maint!.ok('No such server.'), true, 'a server already gone is removed');
    assert.equal(maint!.ok('Require \'backend/server\'.'), false);
  });

  it('cuts only the servers still busy, then deletes every one', () => {
    assert.deepEqual(removalCommands(['a', 'b'], new Set(['b'])).map((c) => c.text), ['shutdown sessions server be/b', 'del server be/a', 'del server be/b']);
  });
});
