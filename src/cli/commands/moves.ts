/** What drain and move print: each instance that moved, and an error naming what stayed where. */
import { unfinished, type MoveResult } from '../../fleet/move.js';
import type { CommandContext } from '../command.js';
import { printJson, renderError, table } from '../output.js';

/** 0 when everything that should move moved; otherwise the error (with --json, the result and exit 1). */
export function finishMove(context: CommandContext, result: MoveResult, command: string, nothing: string): number {
  const problem = unfinished(result, command);
  if (context.flags.json) {
    printJson(context.output, result);
    return problem ? 1 : 0;
  }
  const { output } = context;
  if (result.moved.length > 0) {
    output.out(table([['INSTANCE', 'ENV', 'FROM', 'TO'], ...result.moved.map((m) => [m.slot, m.environment, m.from, m.to])]));
  } else if (!problem) output.out(nothing);
  return problem ? renderError(output, problem) : 0;
}
