/**
 * Runs arp.ts's helpers on an engine: create from the service's image, copy
 * the static busybox in (archive API), start, wait, read the output, remove
 * (also on failure).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pack } from 'tar-stream';
import type { Engine } from '../engine/client.js';
import type { CreateBody } from '../engine/containers.js';
import { announceHelperBody, HELPER_BUSYBOX, probeFailed, probeHelperBody, readProbe, duplicateAddress, type HelperInput } from './arp.js';
import { failed } from '../errors.js';

/** Debian's busybox-static on the Berth machine. */
const BUSYBOX = '/bin/busybox';

let busyboxTar: Promise<Buffer> | undefined;

function busyboxArchive(): Promise<Buffer> {
  if (!existsSync(BUSYBOX)) {
    return Promise.reject(failed(`moving an instance on a flat network needs a static busybox at ${BUSYBOX} on this machine (for arping)`, { fix: 'install it: apt-get install busybox-static' }));
  }
  busyboxTar ??= new Promise<Buffer>((resolve, reject) => {
    const tar = pack();
    const chunks: Buffer[] = [];
    tar.on('data', (c: unknown) => chunks.push(c as Buffer));
    tar.on('end', () => resolve(Buffer.concat(chunks)));
    tar.on('error', reject);
    tar.entry({ name: dirname(HELPER_BUSYBOX).slice(1), type: 'directory', mode: 0o755, mtime: new Date(0) });
    tar.entry({ name: HELPER_BUSYBOX.slice(1), mode: 0o755, mtime: new Date(0) }, readFileSync(BUSYBOX));
    tar.finalize();
  });
  return busyboxTar;
}

async function runHelper(engine: Engine, body: CreateBody): Promise<{ exitCode: number; output: string }> {
  const archive = await busyboxArchive();
  // A helper left by a killed berth has the same name: it goes first.
  if (body.name) await engine.containers.remove(body.name);
  const id = await engine.containers.create(body);
  try {
    await engine.containers.putArchive(id, '/', archive);
    await engine.containers.start(id);
    const exitCode = await engine.containers.wait(id);
    return { exitCode, output: await engine.containers.logs(id) };
  } finally {
    await engine.containers.remove(id).catch(() => {});
  }
}

export interface ArpTarget extends HelperInput {
  slot: string;
  host: string;
  ip: string;
}

/** Refuses (conflict) when anyone on the LAN answers for `ip`; run while the slot's own container is created but not started. */
export async function checkNobodyAnswers(engine: Engine, target: ArpTarget & { dockerNetwork: string }): Promise<void> {
  const { exitCode, output } = await runHelper(engine, probeHelperBody(target));
  const outcome = readProbe(target.ip, exitCode, output);
  if ('error' in outcome) throw probeFailed(target.slot, target.host, target.ip, outcome.error);
  if (!outcome.free) throw duplicateAddress(target.slot, target.host, target.ip, outcome.mac);
}

/** Gratuitous ARP from inside the running instance's network namespace; returns why it could not, if it could not. */
export async function announceAddress(engine: Engine, target: ArpTarget & { container: string }): Promise<string | undefined> {
  try {
    const { exitCode, output } = await runHelper(engine, announceHelperBody(target));
    return exitCode === 0 ? undefined : `arping -U exited with ${exitCode}: ${output.trim().split('\n').slice(-2).join(' / ')}`;
  } catch (error) {
    return (error as Error).message;
  }
}
