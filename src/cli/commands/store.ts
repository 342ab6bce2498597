/** berth store copy --from <state folder or its berth.db> --to postgres://… [--store-password-file F] [--to-state DIR] [--json]: moves an embedded store onto PostgreSQL. */
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { verifyChain } from '../../access/audit.js';
import { AUDIT_HEAD_FILE, readAuditHead } from '../../access/audit-head.js';
import { failed, invalid } from '../../errors.js';
import { copyStore } from '../../store/copy.js';
import { everyAuditRow } from '../../store/audit.js';
import { closeStore, openStoreAt, STORE_FILE } from '../../store/db.js';
import { describeLocation, storeLocation } from '../../store/location.js';
import { makeStateDir } from '../../store/state-modes.js';
import type { Command } from '../command.js';
import { printJson, table } from '../output.js';

const USAGE = 'berth store copy --from <state folder, or its berth.db> --to postgres://USER@HOST:PORT/DB [--store-password-file FILE] [--to-state DIR] [--json]';

export const storeCommand: Command = {
  name: 'store',
  summary: "copy: moves an embedded (SQLite) store onto an empty PostgreSQL database, every table verified (rows and checksum), the audit head with it",
  usage: USAGE,
  options: { from: { type: 'string' }, to: { type: 'string' }, 'store-password-file': { type: 'string' }, 'to-state': { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ positionals, flags, output, cwd }) => {
    if (positionals[0] !== 'copy' || positionals.length > 1) throw invalid(`berth store ${positionals.join(' ')}: no such command`, { fix: `usage: ${USAGE}` });
    if (typeof flags.from !== 'string' || typeof flags.to !== 'string') throw invalid('berth store copy needs --from and --to', { fix: `usage: ${USAGE}` });
    const fromDir = sourceFolder(resolve(cwd, flags.from));
    const passwordFile = typeof flags['store-password-file'] === 'string' ? resolve(cwd, flags['store-password-file']) : undefined;
    const to = storeLocation(flags.to, passwordFile !== undefined ? { passwordFile } : {});
    if (to.kind !== 'postgres') throw invalid(`--to "${flags.to}" is not a postgres:// URL`, { fix: 'give the empty PostgreSQL database to copy into: --to postgres://USER@HOST:PORT/DATABASE' });
    const head = readAuditHead(fromDir);
    const source = await openStoreAt(fromDir);
    try {
      const target = await openStoreAt(to);
      try {
        const tables = await copyStore(source, target, `the store ${describeLocation(to)}`);
        // The copy's audit chain, checked against the source's head: what `berth audit verify` does on a server of the copy.
        const verdict = await verifyChain(everyAuditRow(target), head);
        if (!verdict.ok) throw failed(`the copied audit log does not verify at entry ${verdict.seq}: ${verdict.reason}`, { fix: `check the source first: berth audit verify on the server of ${fromDir}` });
        const toState = typeof flags['to-state'] === 'string' ? resolve(cwd, flags['to-state']) : undefined;
        if (toState && head) {
          makeStateDir(toState);
          copyFileSync(join(fromDir, AUDIT_HEAD_FILE), join(toState, AUDIT_HEAD_FILE));
        }
        if (flags.json) printJson(output, { from: fromDir, to: describeLocation(to), tables, audit: { entries: verdict.count, head: head ?? null, copiedTo: toState && head ? join(toState, AUDIT_HEAD_FILE) : null } });
        else {
          output.out(table([['TABLE', 'ROWS', 'CHECKSUM'], ...tables.map((t) => [t.table, String(t.rows), t.checksum.slice(0, 16)])]));
          output.out(`copied ${fromDir} to ${describeLocation(to)}: every table has the same rows and checksum; the audit log verifies (${verdict.count} entries${head ? `, head ${head.seq}` : ''})`);
          if (head && !toState) output.out(`next: copy ${join(fromDir, AUDIT_HEAD_FILE)} into the --state folder of each server on the copy (or run again with --to-state DIR on an empty database)`);
          output.out(`also copy to each server's --state what stays a file: the secrets key (${join(fromDir, 'secret.key')}, or the same BERTH_SECRET_KEY) and the image signing keys; see docs/ha.md`);
        }
        return 0;
      } finally {
        await closeStore(target);
      }
    } finally {
      await closeStore(source);
    }
  },
};

/** The state folder of a SQLite store given as the folder or as its file. */
function sourceFolder(path: string): string {
  if (!existsSync(path)) throw invalid(`--from ${path}: no such folder or file`, { fix: 'name the state folder of the embedded store (e.g. /var/lib/berth), or its berth.db' });
  const dir = statSync(path).isDirectory() ? path : basename(path) === STORE_FILE ? dirname(path) : undefined;
  if (!dir || !existsSync(join(dir, STORE_FILE))) throw invalid(`--from ${path}: no embedded store (${STORE_FILE}) there`, { fix: 'name the state folder of the embedded store (e.g. /var/lib/berth), or its berth.db' });
  return dir;
}
