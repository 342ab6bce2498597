/**
 * The CLI's second path: with a server configured (--server, BERTH_SERVER or
 * the user's config file), Run's and Release's commands ask the server, which
 * calls the same core functions; the answers are rendered by the same code.
 */
import { connectServer, type ServerClient } from '../remote/client.js';
import { followRollout } from '../remote/follow.js';
import { serverTarget } from '../remote/target.js';
import { invalid, rolloutExitCodes } from '../errors.js';
import type { RolloutEvent } from '../rollout/rollout-context.js';
import type { RolloutResult } from '../rollout/executor.js';
import { withWorkspace, type CommandContext } from './command.js';
import type { ApprovalView } from '../access/approvals.js';
import { serviceOf } from '../runtime/context.js';
import { resolveImage } from '../runtime/image.js';
import { lastPushOf, type PushRecord } from '../store/pushes.js';
import type { Output } from './output.js';

export function remoteOf(context: CommandContext): ServerClient | undefined {
  const target = serverTarget(typeof context.flags.server === 'string' ? context.flags.server : undefined, context.env);
  return target && connectServer(target);
}

/** A command that needs a server (tokens, audit, approvals, apply). */
export function requireServer(context: CommandContext, command: string): ServerClient {
  const client = remoteOf(context);
  if (!client) throw invalid(`berth ${command} needs a Berth server, and none is configured`, { fix: 'set BERTH_SERVER (e.g. http://127.0.0.1:7878) and BERTH_TOKEN, or pass --server URL' });
  return client;
}

/** Runs `use` with the server's client, or `local` in-process when none is configured. */
export async function remoteOr<T>(context: CommandContext, remote: (client: ServerClient) => Promise<T>, local: () => Promise<T>): Promise<T> {
  const client = remoteOf(context);
  if (!client) return local();
  try {
    return await remote(client);
  } finally {
    client.close();
  }
}

export interface RolloutAnswer<R = RolloutResult> {
  rollout?: number;
  result?: R;
  /** With `result`: what it did before it ended (it ended before it was journaled). */
  progress?: unknown[];
  approval?: { id: number; service: string; environment: string; requestedBy: string; expiresAt: string; status: string };
}

/** The exit code of a promotion that waits for an approval: not an error, and not done either. */
export const PENDING_APPROVAL_EXIT = 10;

/**
 * Starts a rollout in the server and, unless --detach, follows it to its end
 * with the same progress lines as in-process; Ctrl-C stops following, never the rollout.
 */
export async function serverRollout<R = RolloutResult, E = RolloutEvent>(
  context: CommandContext,
  client: ServerClient,
  answer: RolloutAnswer<R>,
  finish: (result: R) => number,
  progress: (event: E) => void,
): Promise<number> {
  const { output, flags } = context;
  if (answer.approval) {
    for (const line of approvalLines(answer.approval)) output.out(line);
    return PENDING_APPROVAL_EXIT;
  }
  if (answer.result) {
    if (!flags.json) for (const event of answer.progress ?? []) progress(event as E);
    return finish(answer.result);
  }
  const id = answer.rollout!;
  if (flags.detach) {
    output.out(`rollout #${id} runs in the server; follow it: berth rollout follow ${id}; cancel it: berth rollout cancel ${id}`);
    return 0;
  }
  return followToEnd<R, E>(output, client, id, finish, flags.json ? () => {} : progress);
}

export async function followToEnd<R = RolloutResult, E = RolloutEvent>(output: Output, client: ServerClient, id: number, finish: (result: R) => number, progress: (event: E) => void): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    controller.abort();
    output.err(`berth: ${signal}: stopped following; rollout #${id} goes on in the server.`);
    output.err(`  follow it: berth rollout follow ${id}`);
    output.err(`  cancel it: berth rollout cancel ${id} (it stops before its next step and rolls back)`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const end = await followRollout<R, E>(client, id, progress, controller.signal);
    if (end.kind === 'failed') throw end.error;
    return finish(end.result);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const exitOf = (result: RolloutResult, abortAsked = false) => (result.status === 'aborted' && abortAsked ? 0 : rolloutExitCodes[result.status]);

/** The build a release or a deploy names, from this machine's builds and pushes: the server is told its digest and its push. */
export async function imageForServer(context: CommandContext, service: string): Promise<{ image: string; push?: PushRecord }> {
  return withWorkspace(context, async ({ project, engine, db }) => {
    const image = await resolveImage(project, engine, db, serviceOf(project, service), typeof context.flags.image === 'string' ? context.flags.image : undefined);
    const push = await lastPushOf(db, { imageId: image.id });
    return push ? { image: push.digest, push } : { image: image.id };
  });
}

export type ApprovalLike = Pick<ApprovalView, 'id' | 'service' | 'environment' | 'requestedBy' | 'expiresAt'> & { status: string } & Partial<Pick<ApprovalView, 'decidedBy' | 'rollout'>>;

/** How an approval reads: what waits, who asked, until when, and who may decide it. */
export function approvalLines(approval: ApprovalLike): string[] {
  const what = `promote ${approval.service} to ${approval.environment} asked by ${approval.requestedBy}`;
  if (approval.status !== 'pending') {
    const by = approval.decidedBy ? ` by ${approval.decidedBy}` : '';
    const rollout = approval.rollout ? ` (rollout #${approval.rollout})` : '';
    return [`approval #${approval.id} ${approval.status}${by}: ${what}${rollout}`];
  }
  return [
    `approval #${approval.id} pending: ${what} (expires ${approval.expiresAt})`,
    `  another token with rights on ${approval.environment} approves it: berth approve ${approval.id} (or berth reject ${approval.id})`,
  ];
}
