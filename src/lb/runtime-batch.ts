/**
 * Several runtime API commands in one exec (pure): an exec through the engine costs
 * three API calls and a process in the container (about a second on a loaded engine,
 * against a millisecond for the command itself), so a change of a door's servers is
 * sent as one batch. HAProxy's own `cmd1; cmd2` line gives no reliable boundary
 * between answers (some end with an empty line, some not), so the batch is a shell
 * loop in the container: one connection to the admin socket per command, each answer
 * followed by a marker line with socat's exit status.
 */
import { BACKEND, hostPort } from './haproxy-config.js';
import type { ServerChange } from './sync-plan.js';

const MARK = '@@berth-door-answer';

/** `sh -c <this> berth-door-batch <command>…` in the door's container; needs only sh and socat (every door image has both). */
export function batchScript(socket: string): string {
  return `for c in "$@"; do printf '%s\\n' "$c" | socat -t 10 - UNIX-CONNECT:${socket}; printf '\\n${MARK} %s\\n' "$?"; done`;
}

export interface BatchAnswer {
  /** HAProxy's answer, trimmed. */
  text: string;
  /** socat's exit status: not 0 when the socket could not be reached. */
  status: number;
}

/** Splits the batch's output into one answer per command; fewer markers than commands (the exec was cut short) is an error. */
export function splitBatchOutput(output: string, count: number): BatchAnswer[] {
  const answers: BatchAnswer[] = [];
  const pattern = new RegExp(`\\n${MARK} (\\d+)\\n`, 'g');
  let from = 0;
  for (let match = pattern.exec(output); match; match = pattern.exec(output)) {
    answers.push({ text: output.slice(from, match.index).trim(), status: Number(match[1]) });
    from = match.index + match[0].length;
  }
  if (answers.length !== count) throw new Error(`the batch answered ${answers.length} of ${count} commands`);
  return answers;
}

/** One command of a batch and the answers that mean it worked. */
export interface RuntimeCommand {
  text: string;
  ok: (answer: string) => boolean;
}

const EMPTY = (answer: string) => answer === '';

/** The commands that make one planned change (a removal's first step only: the server to maintenance). */
export function changeCommands(change: ServerChange): RuntimeCommand[] {
  switch (change.op) {
    case 'add': {
      const { server } = change;
      const add = { text: `add server ${BACKEND}/${server.name} ${hostPort(server.address, server.port)} weight ${server.weight}`, ok: (a: string) => a === 'New server registered.' };
      // HAProxy 2.6 starts a dynamic server in maintenance.
      return server.state === 'maint' ? [add] : [add, stateCommand(server.name, server.state)];
    }
    case 'address':
      // 2.6 answers with what changed ("IP changed from … to …, port changed from …"), or nothing.
      return [{ text: `set server ${BACKEND}/${change.name} addr ${change.address} port ${change.port}`, ok: (a) => a === '' || /changed|no need to change/i.test(a) }];
    case 'weight':
      return [{ text: `set weight ${BACKEND}/${change.name} ${change.weight}`, ok: EMPTY }];
    case 'state':
      return [stateCommand(change.name, change.state)];
    case 'remove':
      // A server already gone is removed.
      return [{ text: `set server ${BACKEND}/${change.name} state maint`, ok: (a) => a === '' || /^No such server/i.test(a) }];
  }
}

export function stateCommand(name: string, state: string): RuntimeCommand {
  return { text: `set server ${BACKEND}/${name} state ${state}`, ok: EMPTY };
}

/** What removes servers whose requests were waited for: those still busy cut first, then each deleted. */
export function removalCommands(names: readonly string[], busy: ReadonlySet<string>): RuntimeCommand[] {
  return [
    ...names.filter((n) => busy.has(n)).map((n) => ({ text: `shutdown sessions server ${BACKEND}/${n}`, ok: (a: string) => a === '' || /^No such server/i.test(a) })),
    ...names.map((n) => ({ text: `del server ${BACKEND}/${n}`, ok: (a: string) => a === 'Server deleted.' || a === 'No such server.' })),
  ];
}

/** "del server" refuses while connections are still attached (idle ones being closed too): tried again for a short while. */
export function deleteRefusedForNow(answer: string): boolean {
  return /still has connections|queue is not empty/i.test(answer);
}
