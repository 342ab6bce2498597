import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { connectEngine } from '../engine/client.js';
import type { Made } from './interrupted-child.js';
import { sweepInterrupted } from './sweep.js';

const CHILD = fileURLToPath(new URL('./interrupted-child.js', import.meta.url));
const engine = connectEngine();

/** Starts a test process that makes a fixture with a container, a network and a front door; resolves once it made them. */
function startChild(): Promise<{ child: ChildProcess; made: Made; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const child = spawn(process.execPath, [CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve({ child, made: JSON.parse(out.slice(0, out.indexOf('\n'))) as Made, exited });
    });
    void exited.then(({ code, signal }) => reject(new Error(`the child exited (${code ?? signal}) before it made its fixture`)));
  });
}

async function leftovers(made: Made) {
  return {
    container: (await engine.containers.inspect(made.container)) !== undefined,
    network: (await engine.networks.inspect(made.network)) !== undefined,
    images: (await engine.images.list(`berth.project=${made.name}`)).length,
    door: (await engine.containers.inspect(made.door)) !== undefined,
    dir: existsSync(made.dir),
  };
}

const none = { container: false, network: false, images: 0, door: false, dir: false };
const started: Made[] = [];
/** Children still running when a test fails midway: stopped in `after`, or this file never ends. */
const children: ChildProcess[] = [];

describe('what an interrupted test made', () => {
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    // Should the sweep fail, the next one must still find these: a dead owner's folders are its to remove.
    if (started.some((m) => existsSync(m.dir))) await sweepInterrupted();
  });

  it('is removed by the test process itself on SIGINT, which then exits 130', async () => {
    const { child, made, exited } = await startChild();
    started.push(made);
    assert.deepEqual(await leftovers(made), { container: true, network: true, images: 1, door: true, dir: true });
    child.kill('SIGINT');
    assert.deepEqual(await exited, { code: 130, signal: null });
    assert.deepEqual(await leftovers(made), none);
  });

  it('is left by SIGKILL, then removed by the sweep, which keeps the folder of a live owner', async () => {
    const { child, made, exited } = await startChild();
    started.push(made);
    const live = await startChild();
    started.push(live.made);
    child.kill('SIGKILL');
    assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(await leftovers(made), { container: true, network: true, images: 1, door: true, dir: true }, 'a killed process runs no cleanup');

    const report = await sweepInterrupted();
    assert.ok(report.sweep.some((t) => t.dir === made.dir && t.project === made.name), JSON.stringify(report));
    // Only this test's own leftovers: on a shared machine the sweep also meets what others left, which may resist.
    assert.deepEqual(report.failures.filter((f) => f.startsWith(made.dir)), []);
    assert.deepEqual(await leftovers(made), none);
    assert.ok(report.keep.some((k) => k.dir === live.made.dir), 'the live one is kept');
    assert.deepEqual(await leftovers(live.made), { container: true, network: true, images: 1, door: true, dir: true });

    live.child.kill('SIGTERM');
    assert.deepEqual(await live.exited, { code: 143, signal: null });
    assert.deepEqual(await leftovers(live.made), none);
  });
});
