// Moves source files with `git mv` and rewrites what points at them: every relative import
// specifier in src/, bench/ and scripts/, and the paths the docs and scripts mention. Safe to
// run again after a merge: a file already moved is skipped, and an import a merged branch wrote
// against a file's old folder is resolved from there.
//
//   node scripts/move-modules.mjs [--dry-run] [--comments] MAP...
//
// MAP: a file of "old new" lines (paths from the repository's root, '#' starts a comment); an old
// folder moves every file under it. --comments also rewrites paths that comments in code mention
// without src/ (e.g. "deploy/slots.ts"); by default code changes only in its import specifiers
// and in paths written from src/ (e.g. "dist/src/deploy/run.int.test.js").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const comments = args.includes('--comments');
const mapFiles = args.filter((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--dry-run' && a !== '--comments');
if (unknown.length > 0 || mapFiles.length === 0) {
  process.stderr.write(`${unknown.length > 0 ? `error: unknown option ${unknown[0]}\n` : 'error: no map file given\n'}  usage: node scripts/move-modules.mjs [--dry-run] [--comments] MAP...\n`);
  process.exit(2);
}

const git = (...a) => execFileSync('git', a, { encoding: 'utf8' });
process.chdir(git('rev-parse', '--show-toplevel').trim());
const tracked = () => git('ls-files', '-co', '--exclude-standard').split('\n').filter((f) => f !== '' && existsSync(f));

/** [old, new] as written in the maps, folders without their trailing slash. */
const entries = [];
for (const file of mapFiles) {
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new Error(`${file}:${i + 1}: expected "old new", got "${raw.trim()}"`);
    entries.push(parts.map((p) => p.replace(/\/+$/, '')));
  });
}
// A folder entry names no file, neither before its move nor after.
const before = tracked();
const beforeSet = new Set(before);
const folders = entries.filter(([from, to]) => !beforeSet.has(from) && !beforeSet.has(to));

/** Where a path goes: its own entry, else the longest folder entry it lies in, else nowhere (undefined). */
function destination(path) {
  const exact = entries.find(([from]) => from === path);
  if (exact) return exact[1];
  const folder = folders.filter(([from]) => path.startsWith(`${from}/`)).sort((a, b) => b[0].length - a[0].length)[0];
  return folder ? folder[1] + path.slice(folder[0].length) : undefined;
}

// 1. The moves: every tracked file whose path has a destination and is still at its old place.
const moves = before.map((f) => [f, destination(f)]).filter(([, to]) => to !== undefined);
for (const [from, to] of moves) {
  if (existsSync(to)) throw new Error(`cannot move ${from}: ${to} exists already`);
}
for (const [from] of entries) {
  if (!moves.some(([f]) => f === from || f.startsWith(`${from}/`)) && !existsSync(destination(from) ?? '')) process.stderr.write(`warning: ${from} is not there and neither is where it goes; a typo in the map?\n`);
}
const movedTo = new Map(moves);
const movedFrom = new Map(moves.map(([from, to]) => [to, from]));
if (!dryRun) {
  for (const [from, to] of moves) {
    mkdirSync(posix.dirname(to), { recursive: true });
    git('mv', from, to);
    // tsc does not delete what it compiled from a file that went, and node --test would still run it.
    const out = `dist/${from.replace(/\.ts$/, '')}`;
    for (const ext of ['.js', '.js.map', '.d.ts']) rmSync(out + ext, { force: true });
  }
}
for (const [from, to] of moves) process.stdout.write(`moved ${from} → ${to}\n`);

// 2. Import specifiers.
const after = new Set(before.map((f) => movedTo.get(f) ?? f));
/** The file a path written in an import means (x.js is x.ts in TypeScript), and its spelling back. */
const sourceOf = (p) => [p, p.replace(/\.js$/, '.ts'), p.replace(/\.mjs$/, '.mts')].find((c) => beforeSet.has(c) || after.has(c) || destination(c) !== undefined);
const spelled = (source, written) => (written.endsWith('.js') && source.endsWith('.ts') ? source.replace(/\.ts$/, '.js') : written.endsWith('.mjs') && source.endsWith('.mts') ? source.replace(/\.mts$/, '.mjs') : source);

const unresolved = [];
/** Where a file at a destination came from, by the maps (for one moved now or earlier). */
function originOf(file) {
  return entries.map(([from, to]) => (to === file ? from : file.startsWith(`${to}/`) ? from + file.slice(to.length) : undefined)).find((o) => o !== undefined);
}
/** The target a specifier written in a file at `dir` means after the moves, or undefined. */
function target(dir, spec) {
  const written = posix.normalize(posix.join(dir, spec));
  const source = sourceOf(written);
  if (source === undefined) return undefined;
  const to = movedTo.get(source) ?? (after.has(source) ? source : destination(source));
  return to === undefined ? undefined : spelled(to, written);
}

/** A URL that leaves dist/ (import.meta.url is the compiled file's): the repository file it names, from dist/<dir>. */
function outsideDist(dir, spec) {
  const written = posix.normalize(posix.join('dist', dir, spec));
  return !written.startsWith('dist/') && !written.startsWith('../') && existsSync(written) ? written : undefined;
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bnew URL\(\s*)(['"])(\.{1,2}\/[^'"\n]*)\2/g;
const code = [...after].filter((f) => /^(src|bench|scripts)\//.test(f) && /\.([cm]?js|[cm]?ts)$/.test(f));
const changed = new Set();
const texts = new Map();
for (const file of code) {
  const was = movedFrom.get(file) ?? file;
  // A file an earlier run moved (or a merge brought to its new place) may still import as from its old folder.
  const origin = originOf(file);
  const text = readFileSync(dryRun ? was : file, 'utf8');
  const next = text.replace(SPECIFIER, (whole, lead, quote, spec) => {
    const repoFile = outsideDist(posix.dirname(was), spec);
    if (repoFile !== undefined) {
      const rel = posix.relative(posix.join('dist', posix.dirname(file)), repoFile);
      return `${lead}${quote}${rel}${quote}`;
    }
    const here = target(posix.dirname(was), spec);
    const there = origin ? target(posix.dirname(origin), spec) : undefined;
    if (here !== undefined && there !== undefined && here !== there) unresolved.push(`${file}: ${spec} means ${here} from here but ${there} from ${origin}; kept ${here}, check it`);
    const found = here ?? there;
    if (found === undefined) {
      unresolved.push(`${file}: ${spec}`);
      return whole;
    }
    let rel = posix.relative(posix.dirname(file), found);
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${lead}${quote}${rel}${quote}`;
  });
  texts.set(file, next);
  if (next !== text) changed.add(file);
}

// 3. Paths mentioned: "src/deploy/x.ts", "dist/src/deploy/x.js" anywhere; "deploy/x.ts" and
// "`build/`" in Markdown (and, with --comments, in code).
// Every file at a destination, moved now or by an earlier run (a merge may bring mentions of its old path).
const pairs = [...folders];
for (const file of after) {
  const from = movedFrom.get(file) ?? originOf(file);
  if (from === undefined) continue;
  pairs.push([from, file]);
  if (from.endsWith('.ts')) pairs.push([from.replace(/\.ts$/, '.js'), file.replace(/\.ts$/, '.js')]);
}
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const table = new Map();
const bare = new Map();
for (const [from, to] of pairs) {
  if (!from.startsWith('src/')) continue;
  const isFolder = folders.some(([f]) => f === from);
  table.set(isFolder ? `${from}/` : from, isFolder ? `${to}/` : to);
  if (isFolder) bare.set(`\`${from.slice(4)}/\``, `\`${to.slice(4)}/\``);
  else bare.set(from.slice(4), to.slice(4));
}
const alternation = (keys) => [...keys].sort((a, b) => b.length - a.length).map(escape).join('|');
const withSrc = table.size > 0 ? new RegExp(`(?<![\\w-])(?:${alternation(table.keys())})(?![\\w])`, 'g') : undefined;
const withoutSrc = bare.size > 0 ? new RegExp(`(?<![\\w./-])(?:${alternation([...table.keys(), ...bare.keys()])})(?![\\w])`, 'g') : undefined;
const mentionFiles = [...after].filter((f) => !f.startsWith('dist/') && f !== 'scripts/move-modules.mjs' && !f.includes('node_modules/') && (/\.md$/.test(f) || code.includes(f) || /^(\.ci\/|scripts\/.*\.sh$|package\.json$)/.test(f)));
for (const file of mentionFiles) {
  const was = movedFrom.get(file) ?? file;
  const text = texts.get(file) ?? readFileSync(dryRun ? was : file, 'utf8');
  const prose = /\.md$/.test(file) || (comments && code.includes(file));
  const rename = (m) => table.get(m) ?? bare.get(m) ?? m;
  let next = withSrc ? text.replace(withSrc, rename) : text;
  if (prose && withoutSrc) next = next.replace(withoutSrc, rename);
  texts.set(file, next);
  if (next !== text) changed.add(file);
}

for (const file of changed) {
  if (!dryRun) writeFileSync(file, texts.get(file));
  process.stdout.write(`rewrote ${file}\n`);
}
for (const u of unresolved.filter((u) => !/node_modules/.test(u))) process.stderr.write(`warning: cannot resolve ${u}\n`);
process.stdout.write(`${moves.length} moved, ${changed.size} rewritten${dryRun ? ' (dry run: nothing written)' : ''}\n`);
