/** Integration: a lab of three real engines on one LAN, and what is left of it after a dispose or a sweep. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { isAlive } from '../processes.js';
import { pingTls } from './lab-dockerd.js';
import { engineOf, rawEngineOf, startFlatContainer } from './lab-containers.js';
import { labLeftovers, NOTHING_LEFT, type LabTrace } from './lab-leftovers.js';
import type { ChildMade } from './lab-interrupted-child.js';
import { startLab, type Lab, type LanHost } from './lab.js';
import { steps } from './steps.js';
import { sweepInterrupted } from './sweep.js';
import { BUSYBOX } from './tiny-root.js';

const CHILD = fileURLToPath(new URL('./lab-interrupted-child.js', import.meta.url));

/** GET /_ping with the lab's CA but no client certificate: the TLS error, or the status if it got one. */
function pingWithoutCertificate(ip: string, ca: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port: 2376, path: '/_ping', ca: readFileSync(ca), agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    req.end();
  });
}

function exitCode(command: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(command, args, { stdio: 'ignore' }).on('exit', resolve));
}

describe('a lab of three engines', () => {
  const step = steps();
  let lab: Lab;
  let lan: LanHost;
  let trace: LabTrace;
  const instances: { ip: string; mac: string }[] = [];
  const reaches = async (ip: string) => (await lan.exec([BUSYBOX, 'ping', '-c', '1', '-W', '2', ip])).exitCode === 0;

  before(async () => {
    lab = await startLab({ hosts: 3 });
    trace = { id: lab.id, dir: lab.dir, certs: [] };
  });

  after(async () => {
    await lab?.dispose();
  });

  step('each engine answers over mutual TLS at its own address and refuses a client without a certificate', async () => {
    assert.deepEqual(lab.hosts.map((h) => h.engine), lab.hosts.map((_, i) => `tcp://${lab.address(11 + i)}:2376`));
    for (const host of lab.hosts) {
      assert.equal(await pingTls(host.ip, host.tls), true, `${host.name} answers GET /_ping`);
      assert.match(await pingWithoutCertificate(host.ip, host.tls.ca), /^error /, `${host.name} refuses a client without a certificate`);
    }
    const ids = await Promise.all(lab.hosts.map(async (h) => (await rawEngineOf(h).json<{ ID: string }>('GET', '/info')).ID));
    assert.equal(new Set(ids).size, 3, 'each engine has its own ID');
  });

  step('puts a container with a static IP and MAC on the flat network of two hosts; the LAN sees both', async () => {
    for (const [i, host] of lab.hosts.slice(0, 2).entries()) {
      const ip = lab.address(100 + i);
      const { mac } = await startFlatContainer(lab, host, ip, `t-lab-${lab.id}`);
      instances.push({ ip, mac });
    }
    lan = await lab.lanHost();
    for (const { ip, mac } of instances) {
      assert.equal(await reaches(ip), true, `the LAN reaches ${ip}`);
      assert.equal(await lan.neighbourMac(ip), mac, `the LAN sees ${ip} at its static MAC`);
    }
    // The flat network spans the hosts at L2: host 3, without the network, reaches a container on host 2 through the LAN bridge.
    assert.equal(await exitCode('nsenter', [`--net=/run/netns/${lab.hosts[2]!.netns}`, BUSYBOX, 'ping', '-c', '1', '-W', '2', instances[1]!.ip]), 0, 'host 3 reaches the container on host 2');
    // This machine (its front door) reaches the instances at their own addresses.
    assert.equal(await exitCode(BUSYBOX, ['ping', '-c', '1', '-W', '2', instances[0]!.ip]), 0, 'this machine reaches the container on host 1');
  });

  step("stops one host: its container goes with it, the other host's still answers; then starts it again", async () => {
    const [h1] = lab.hosts;
    await h1!.stop();
    assert.equal(h1!.running(), false);
    assert.equal(await pingTls(h1!.ip, h1!.tls), false, 'the stopped engine does not answer');
    assert.equal(await reaches(instances[0]!.ip), false, "the stopped host's container does not answer");
    assert.equal(await reaches(instances[1]!.ip), true, "the other host's container still answers");
    await h1!.start();
    assert.equal(await pingTls(h1!.ip, h1!.tls), true, 'the restarted engine answers');
    assert.ok((await engineOf(h1!).images.list('berth.project')).length > 0, 'with its images: the same data-root');
  });

  step('trusts a registry on every engine of the machine, and removes the entry with everything else', async () => {
    const address = `${lab.hostIp}:5443`;
    lab.trustRegistry(address, readFileSync(lab.tls.ca, 'utf8'));
    trace.certs.push(address);
    assert.equal(readFileSync(`/etc/docker/certs.d/${address}/ca.crt`, 'utf8'), readFileSync(lab.tls.ca, 'utf8'));
    assert.notDeepEqual(await labLeftovers(trace), NOTHING_LEFT);
    await lab.dispose();
    assert.deepEqual(await labLeftovers(trace), NOTHING_LEFT);
  });
});

/** Starts a test process that makes a lab with a container; resolves once it made them. */
async function startChild(): Promise<{ child: ChildProcess; made: ChildMade; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const child = spawn(process.execPath, [CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const made = await new Promise<ChildMade>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as ChildMade);
    });
    void exited.then(({ code, signal }) => reject(new Error(`the child exited (${code ?? signal}) before it made its lab`)));
  });
  return { child, made, exited };
}

describe('a lab whose test process was interrupted', () => {
  const started: ChildMade[] = [];

  after(async () => {
    // Should a test fail, the next sweep must still find what it left: a dead owner's folders are its to remove.
    if (started.some((m) => existsSync(m.dir))) await sweepInterrupted();
  });

  it('is removed by the test process itself on SIGINT, which then exits 130', async () => {
    const { child, made, exited } = await startChild();
    started.push(made);
    const trace = { id: made.id, dir: made.dir, certs: [made.certs] };
    assert.notDeepEqual(await labLeftovers(trace), NOTHING_LEFT);
    child.kill('SIGINT');
    assert.deepEqual(await exited, { code: 130, signal: null });
    assert.equal(isAlive(made.containerPid), false);
    assert.deepEqual(await labLeftovers(trace), NOTHING_LEFT);
  });

  it('is removed by the sweep after a SIGKILL, even with its engine killed before it stopped its container', async () => {
    const { child, made, exited } = await startChild();
    started.push(made);
    child.kill('SIGKILL');
    assert.deepEqual(await exited, { code: null, signal: 'SIGKILL' });
    const trace = { id: made.id, dir: made.dir, certs: [made.certs] };
    assert.ok(isAlive(made.containerPid), 'a killed test runs no cleanup: its container runs');
    // The harshest case: the engine dies too, before it stops its container (an OOM kill, a kill -9 of everything).
    process.kill(made.dockerdPid, 'SIGKILL');

    const report = await sweepInterrupted();
    assert.ok(report.sweep.some((t) => t.dir === made.dir), JSON.stringify(report));
    assert.deepEqual(report.failures.filter((f) => f.startsWith(made.dir)), []);
    assert.equal(isAlive(made.containerPid), false, "the killed engine's container is gone");
    assert.deepEqual(await labLeftovers(trace), NOTHING_LEFT);
  });
});
