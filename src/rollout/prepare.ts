/**
 * The steps that prepare a rollout (prepare-step.ts), run by the executor after the plan is
 * journaled. Each looks at what is there first, so a step run again after a kill does only
 * what is left.
 */
import { ensureNetworks, reconcileAddresses } from '../runtime/target.js';
import { failed } from '../errors.js';
import { recordRelease, setScale } from '../store/releases.js';
import type { PrepareStep, Rename } from './prepare-step.js';
import { journaled, observe, type RolloutContext } from './rollout-context.js';

export async function runPrepareStep(ctx: RolloutContext, step: PrepareStep): Promise<void> {
  switch (step.op) {
    case 'networks':
      return ensureNetworks(ctx.target, step.hosts);
    case 'adopt-names':
      return adoptNames(ctx, step.renames);
    case 'addresses': {
      const released = await reconcileAddresses(ctx.target);
      if (released.length > 0) ctx.emit({ type: 'note', text: `reconcile: released ${released.join(', ')} (no container holds them) into quarantine` });
      return;
    }
    case 'record-release':
      // Only a journaled rollout records a release: its lease fences the write.
      if (!ctx.lease || ctx.rollout === 0) throw failed(`release ${step.release.number} of ${step.release.service} can only be recorded by a journaled rollout`);
      await recordRelease(ctx.run.db, step.release, ctx.lease, ctx.rollout);
      return;
    case 'pull':
      await Promise.all(step.hosts.map((host) => ctx.images.ensure(host)));
      return;
    case 'scale':
      await journaled(ctx, () => setScale(ctx.run.db, ctx.service.name, ctx.environment.name, step.replicas));
      return;
  }
}

/**
 * Containers made before names carried the project get today's names, so the rollout replaces
 * them in batches through the front door like any outdated instance instead of treating them as
 * strays. A container already renamed, gone, or whose new name another one took meanwhile is left.
 */
async function adoptNames(ctx: RolloutContext, renames: readonly Rename[]): Promise<void> {
  const here = await observe(ctx);
  for (const r of renames) {
    const container = here.find((o) => o.host === r.host && o.id === r.id);
    if (container?.name !== r.from || here.some((o) => o.name === r.to)) continue;
    await ctx.run.hosts.engine(r.host).containers.rename(r.id, r.to);
    ctx.emit({ type: 'note', text: `renamed ${r.from} to ${r.to} (container names now carry the project)` });
  }
}
