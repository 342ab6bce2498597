/**
 * `berth rollout abandon <id>`: ends an interrupted rollout without going on
 * with its plan, and converges on what runs. A slot whose old container was set
 * aside (`<project>.<slot>-prev`) and has no running main container gets it back; a
 * half-launched container of the rollout is removed; leftovers go; the front
 * door holds exactly the running instances; the lease is released.
 */
import { environmentOf, type RunContext } from '../runtime/context.js';
import { restore } from './launch.js';
import { removeInstance } from './remove.js';
import { conflict, notFound } from '../errors.js';
import { rolloutById, setRolloutStatus, setScale, type Rollout } from '../store/releases.js';
import { acquireToAbandon, leaseSettings, type HeldLease } from './lease.js';
import { journaled, observe, targetHash } from './rollout-context.js';
import type { RolloutPlan } from './rollout-plan.js';
import { actor, contextFor, targetOf, usesFrontDoor, type RolloutOptions } from './executor.js';
import { converge } from './steps.js';

export interface AbandonResult {
  rollout: number;
  service: string;
  environment: string;
  /** Slots whose set-aside container was put back. */
  restored: string[];
  /** Containers of the rollout removed because they never ran (half-launched). */
  removed: string[];
  /** The main slots running once it converged. */
  running: string[];
  message: string;
}

/** A container an interrupted rollout renamed aside. */
const isSetAside = (o: { role: string }) => o.role === 'aside';

export async function abandonRollout(run: RunContext, id: number, options: RolloutOptions = {}): Promise<AbandonResult> {
  const record = await rolloutById(run.db, id);
  if (!record) throw notFound(`rollout #${id} does not exist`, { fix: 'list the open ones with: berth rollout ls' });
  refuseUnlessInterrupted(record);
  environmentOf(run.project, record.environment);
  const lease = await acquireToAbandon(run.db, record, leaseSettings(run.env));
  try {
    return await abandonUnder(run, record, lease, options);
  } finally {
    lease.stop();
  }
}

async function abandonUnder(run: RunContext, record: Rollout, lease: HeldLease, options: RolloutOptions): Promise<AbandonResult> {
  const { id } = record;
  const environment = environmentOf(run.project, record.environment);
  const plan = JSON.parse(record.plan) as RolloutPlan;
  const emit = options.emit ?? (() => {});
  const ctx = { ...(await contextFor(run, await targetOf(run, record.service, plan), environment, options, await usesFrontDoor(run, record.kind, record.service, record.environment))), lease };
  const restored: string[] = [];
  const removed: string[] = [];
  const here = await observe(ctx);
  for (const aside of here.filter(isSetAside)) {
    const main = here.find((o) => o.role === 'main' && o.slot === aside.slot);
    if (main?.running) continue;
    const engine = ctx.run.hosts.engine(aside.host);
    if (main) {
      // A move launches the new container on another host than the set-aside one.
      await ctx.run.hosts.engine(main.host).containers.remove(main.id);
      removed.push(main.slot);
    }
    await restore(engine, ctx.target.ipam, aside.id, run.project.name, aside.slot, ctx.target.network);
    restored.push(aside.slot);
    emit({ type: 'instance', slot: aside.slot, text: 'put the set-aside container back' });
  }
  // A main container of the rollout's release that never ran, with nothing set aside, is a new slot half-launched (create,
  // surge, canary): it goes with its address and record. A stopped one of another release is the operator's.
  for (const o of here.filter((x) => !isSetAside(x) && !x.running && !restored.includes(x.slot))) {
    if (o.specHash !== await targetHash(ctx, o.slot)) continue;
    await removeInstance(ctx.run, ctx.target.ipam, { host: o.host, id: o.id, slot: o.slot, environment: environment.name, network: ctx.target.network, graceSeconds: 0 }, <T>(forget: () => Promise<T>) => journaled(ctx, forget));
    removed.push(o.slot);
    emit({ type: 'instance', slot: o.slot, text: 'removed, half-launched by the rollout' });
  }
  await converge(ctx, []);
  const running = (await observe(ctx)).filter((o) => !isSetAside(o) && o.running).map((o) => o.slot).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  // An interrupted scale asked for more (or fewer) than runs now: what runs is the scale from here on.
  if (record.kind === 'scale') await setScale(run.db, record.service, record.environment, running.length);
  const steps = `stopped after step ${record.done} of ${plan.steps.length}`;
  const message = `abandoned by ${actor(run.env)}: ${steps}; converged on what runs (${running.length} instance(s)${restored.length > 0 ? `, ${restored.join(', ')} put back` : ''})`;
  await setRolloutStatus(run.db, id, 'abandoned', lease, message);
  await lease.release();
  return { rollout: id, service: record.service, environment: record.environment, restored, removed, running, message };
}

function refuseUnlessInterrupted(record: Rollout): void {
  const fix = `see berth history ${record.service} --env ${record.environment}`;
  if (record.status === 'canary') {
    throw conflict(`rollout #${record.id} is an open canary of ${record.service} in ${record.environment}, not an interrupted rollout`, {
      fix: `decide it: berth canary abort ${record.service} --env ${record.environment} (or berth canary promote …)`,
    });
  }
  if (record.status !== 'running') throw conflict(`rollout #${record.id} of ${record.service} in ${record.environment} has already ended (${record.status})`, { fix });
}
