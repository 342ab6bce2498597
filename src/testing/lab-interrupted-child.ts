/**
 * A test process to kill, for lab.int.test.ts: it starts a lab of two hosts
 * in a test folder of its own, a container on the first, trusts a registry,
 * prints what it made as one JSON line, and waits to be killed.
 */
import { readFileSync } from 'node:fs';
import { rawEngineOf, startFlatContainer } from './lab-containers.js';
import { startLab } from './lab.js';

export interface ChildMade {
  id: string;
  dir: string;
  certs: string;
  dockerdPid: number;
  containerPid: number;
}

const lab = await startLab({ hosts: 2 });
const host = lab.hosts[0]!;
const { id } = await startFlatContainer(lab, host, lab.address(100), `t-lab-${lab.id}`);
const state = await rawEngineOf(host).json<{ State: { Pid: number } }>('GET', `/containers/${id}/json`);
const certs = `${lab.hostIp}:5443`;
lab.trustRegistry(certs, readFileSync(lab.tls.ca, 'utf8'));
const dockerdPid = Number(readFileSync(`${lab.dir}/lab-${lab.id}/${host.name}/dockerd.pid`, 'utf8').trim());
const made: ChildMade = { id: lab.id, dir: lab.dir, certs, dockerdPid, containerPid: state.State.Pid };
process.stdout.write(`${JSON.stringify(made)}\n`);
// Stays until a signal: its handler (cleanup.ts) disposes of the lab, a SIGKILL leaves everything for the sweep.
setInterval(() => {}, 60_000);
