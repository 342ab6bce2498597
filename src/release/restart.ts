/**
 * berth restart, in-process and in the server (POST /v1/services/:service/restarts):
 * slots whose container is gone come back first (a rollout of the release the
 * environment runs, on their slots and addresses), then the others restart one
 * at a time, each healthy again before the next. Progress is events, so the CLI
 * prints the same lines whether it runs this itself or follows the server.
 */
import { environmentOf, serviceOf, type RunContext } from '../runtime/context.js';
import { listInstances } from '../runtime/instances.js';
import { operate, selectInstances } from './operate.js';
import { invalid } from '../errors.js';
import { currentRelease } from '../store/releases.js';
import { recreateMissing } from './operations.js';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import { recoverInterrupted, type RolloutOptions } from '../rollout/executor.js';

export type RestartEvent =
  | RolloutEvent
  /** A missing slot came back on its slot and address. */
  | { type: 'recreated'; slot: string; ip?: string }
  /** A missing slot that stays missing: `reason` says why (no release to recreate it from, a rollout that did not succeed). */
  | { type: 'not-recreated'; slot: string; service: string; reason: string }
  | { type: 'restarted'; slot: string; healthy: boolean; reason?: string };

export interface RestartResult {
  service: string;
  environment: string;
  /** The instance asked for, when not the whole service. */
  instance?: string;
  recreated: string[];
  restarted: string[];
  /** Slots that are not running healthy after it, with why. */
  failed: { slot: string; reason: string }[];
}

export interface RestartOptions extends Pick<RolloutOptions, 'onJournaled' | 'signal' | 'timeoutMs' | 'lease' | 'door'> {
  /** One instance (a slot of the service, e.g. web-production-2) instead of all. */
  instance?: string;
  emit?: (event: RestartEvent) => void;
}

/**
 * How `berth restart <service|instance> --env <env>` names what it restarts: a slot
 * (`<service>-<env>-<n>`; load refuses services named like another's slots) or a service.
 */
export function restartTarget(name: string, environment: string): { service: string; instance?: string } {
  const suffix = `-${environment}-`;
  const at = name.lastIndexOf(suffix);
  if (at > 0 && /^\d+$/.test(name.slice(at + suffix.length))) return { service: name.slice(0, at), instance: name };
  return { service: name };
}

export async function restartService(run: RunContext, serviceName: string, environmentName: string, asked: RestartOptions = {}): Promise<RestartResult> {
  const environment = environmentOf(run.project, environmentName).name;
  // restartTarget read a service named like a slot (web-dev-1, and no service web) as a slot: it is that service.
  const named = asked.instance !== undefined && !run.project.services.has(serviceName) && run.project.services.has(asked.instance);
  const { instance: _slot, ...whole } = asked;
  const options: RestartOptions = named ? whole : asked;
  const service = serviceOf(run.project, named ? asked.instance! : serviceName).name;
  if (options.instance !== undefined && restartTarget(options.instance, environment).service !== service) {
    throw invalid(`${options.instance} is not an instance of ${service} in ${environment}`, { fix: `name one of its instances (${service}-${environment}-<n>, as berth ps shows them), or none to restart them all` });
  }
  const emit = options.emit ?? (() => {});
  const chosen = (slot: string) => options.instance === undefined || slot === options.instance;
  const result: RestartResult = { service, environment, ...(options.instance !== undefined ? { instance: options.instance } : {}), recreated: [], restarted: [], failed: [] };
  const fail = (slot: string, reason: string) => result.failed.push({ slot, reason });

  // The server answers once the first rollout is journaled: a resumed one, the recreation's or the restarts'.
  let journaled = false;
  const onJournaled = (id: number) => {
    if (!journaled) options.onJournaled?.(id);
    journaled = true;
  };
  const rolloutOptions: RolloutOptions = {
    ...(options.emit ? { emit: options.emit } : {}),
    ...(options.onJournaled ? { onJournaled } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.lease ? { lease: options.lease } : {}),
    ...(options.door ? { door: options.door } : {}),
  };
  // A rollout a killed berth left half done is finished first, as before any rollout (and a host that does not answer stops it here).
  await recoverInterrupted(run, service, environment, rolloutOptions, `the restart of ${service} in ${environment}`);
  const all = await listInstances(run, { environment, withMissing: true });
  const missing = all.filter((i) => i.state === 'missing' && i.service === service && chosen(i.slot));
  if (missing.length > 0) {
    if (await currentRelease(run.db, service, environment) === undefined) {
      for (const i of missing) {
        const reason = `missing (no container); recreate it with: berth deploy ${service} --env ${environment}`;
        emit({ type: 'not-recreated', slot: i.slot, service, reason });
        fail(i.slot, reason);
      }
    } else {
      const rollout = await recreateMissing(run, service, environment, rolloutOptions);
      for (const i of missing) {
        if (rollout.status === 'succeeded') {
          emit({ type: 'recreated', slot: i.slot, ...(i.ip ? { ip: i.ip } : {}) });
          result.recreated.push(i.slot);
        } else {
          const reason = `not recreated: rollout #${rollout.rollout} ${rollout.status}${rollout.message ? ` (${rollout.message})` : ''}`;
          emit({ type: 'not-recreated', slot: i.slot, service, reason });
          fail(i.slot, reason);
        }
      }
    }
  }
  const handled = new Set(missing.map((i) => i.slot));
  // Read again after a recreation: its rollout may have replaced instances that drifted from the release.
  const now = missing.length > 0 ? await listInstances(run, { environment }) : all;
  const present = now.filter((i) => i.state !== 'missing' && i.state !== 'set-aside' && !handled.has(i.slot) && i.service === service && chosen(i.slot));
  // Nothing at all: selectInstances says what is wrong (no such instance, nothing deployed, a host that does not answer).
  const instances = present.length === 0 && missing.length === 0 ? await selectInstances(run, options.instance ?? service, environment) : present;
  // The restarts are a rollout of their own, one slot per step, under the service's lease: no rollout runs beside them,
  // and the reconciler leaves a container that is restarting alone. The server answers once the first rollout is journaled.
  await operate(run, service, environment, 'restart', instances.map((i) => ({ op: 'restart', slots: [i.slot], at: { [i.slot]: i.host } })), {
    ...rolloutOptions,
    outcome: (o) => {
      if (o.op !== 'restart') return;
      emit({ type: 'restarted', slot: o.slot, healthy: o.healthy, ...(o.reason !== undefined ? { reason: o.reason } : {}) });
      if (o.healthy) result.restarted.push(o.slot);
      else fail(o.slot, o.reason ?? 'not healthy');
    },
  });
  return result;
}
