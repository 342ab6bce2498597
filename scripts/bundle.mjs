// The CLI as one file (bin/berth.js runs it through V8's code cache), and the server as a second
// one that `berth server` loads: with no import() inside the CLI's bundle, esbuild keeps its
// modules flat and drops what no command uses (of Kysely, every dialect but SQLite's).
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['better-sqlite3', 'pg'], supported: { 'dynamic-import': false }, logLevel: 'warning' };

const serverApart = {
  name: 'server-apart',
  setup(b) {
    b.onResolve({ filter: /\/server\/main\.js$/ }, (args) => (args.importer.endsWith('/cli/commands/server.ts') ? { path: './berth-server.cjs', external: true } : undefined));
  },
};

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/berth.cjs', plugins: [serverApart] }),
  build({ ...common, entryPoints: ['src/server/main.ts'], outfile: 'dist/berth-server.cjs' }),
]);
