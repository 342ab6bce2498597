/**
 * A host's address work around a move (arp.ts says what and why): by the host's warden when one
 * runs there, one exec each, else by a helper container each (arp-helper.ts), as before wardens.
 * The warden's answer is read exactly as a helper's: someone answering refuses the address, and a
 * check that could not run is never taken for "free": the helper runs it instead (a warden from
 * before it did this work, a bridge it cannot see).
 */
import type { Engine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { announceAddress, checkNobodyAnswers, type ArpTarget } from './arp-helper.js';
import { duplicateAddress, probeFailed, readProbe, wardenAnnounceCommand, wardenProbeCommand } from './arp.js';

/** Who did it, and why not the warden when a helper did. */
export interface AddressWorkDone {
  by: 'warden' | 'helper';
  /** Why the warden did not (no warden runs there, or its check could not run). */
  instead?: string;
}

type WardenRun = { ran: true; exitCode: number; output: string } | { ran: false; why: string };

/** An exec in the warden's container; a host without a running warden says so instead of failing. */
async function inWarden(engine: Engine, warden: string, cmd: string[]): Promise<WardenRun> {
  try {
    return { ran: true, ...(await engine.exec(warden, cmd)) };
  } catch (error) {
    if (isBerthError(error) && (error.kind === 'not-found' || error.kind === 'conflict')) return { ran: false, why: error.kind === 'not-found' ? 'no warden on the host' : 'its warden is not running' };
    throw error;
  }
}

/** Refuses (conflict) when anyone on the LAN answers for `target.ip`; run while the slot's own container is created but not started. */
export async function checkAddressFree(engine: Engine, warden: string, target: ArpTarget & { dockerNetwork: string; bridge?: string }): Promise<AddressWorkDone> {
  let instead = 'the network names no Linux bridge for the warden to check from';
  if (target.bridge) {
    let run: WardenRun;
    try {
      run = await inWarden(engine, warden, wardenProbeCommand(target.bridge, target.ip));
    } catch (error) {
      throw probeFailed(target.slot, target.host, target.ip, (error as Error).message);
    }
    if (run.ran) {
      const outcome = readProbe(target.ip, run.exitCode, run.output);
      if ('free' in outcome && outcome.free) return { by: 'warden' };
      if ('mac' in outcome) throw duplicateAddress(target.slot, target.host, target.ip, outcome.mac);
      instead = `the warden's check could not run: ${'error' in outcome ? outcome.error : ''}`;
    } else {
      instead = run.why;
    }
  }
  await checkNobodyAnswers(engine, target);
  return { by: 'helper', instead };
}

/** Gratuitous ARP from inside the running instance's network namespace; `problem` says why it could not, if it could not. */
export async function announceMovedAddress(engine: Engine, warden: string, target: ArpTarget & { container: string; pid?: number }): Promise<AddressWorkDone & { problem?: string }> {
  let instead = 'the engine gave no pid for the instance';
  if (target.pid !== undefined) {
    const run = await inWarden(engine, warden, wardenAnnounceCommand(target.pid, target.ip)).catch((error: Error): WardenRun => ({ ran: false, why: error.message }));
    if (run.ran && run.exitCode === 0) return { by: 'warden' };
    instead = run.ran ? `the warden's announcement exited with ${run.exitCode}: ${run.output.trim().split('\n').slice(-2).join(' / ')}` : run.why;
  }
  const problem = await announceAddress(engine, target);
  return { by: 'helper', instead, ...(problem ? { problem } : {}) };
}
