#!/usr/bin/env node
// Start-up is most of a quick command (a no-op build is ~130 ms, ~80 of them Node's
// start and compiling Berth's code), so the CLI is one bundled file (loading ~50 modules
// one by one cost a third of a no-op build) run through V8's code cache: the compiled
// code of a first run is kept beside the bundle and reused while the bundle is unchanged.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'berth.cjs');
const cacheFile = `${bundle}.cache`;

// A closed pipe (berth promote … | head -1) or a terminal gone ends only the output, never
// the command: a rollout goes on to its end and the exit code says how it ended
// (dist/src/cli/output.ts stops writing to a stream whose write failed).
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const cachedData = readCache();
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readBundle()}\n})`, {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));

process.exitCode = await module.exports.main(process.argv.slice(2));
// Made after the run, so it holds the functions this run compiled too. V8 rejects a cache
// made for other code or another Node, and then it is made again.
if (!cachedData || script.cachedDataRejected) writeCache(script.createCachedData());

function readBundle() {
  try {
    return readFileSync(bundle, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    process.stderr.write(`error: ${bundle} is missing\n  fix: run "npm run build" (or "npm run setup") in the checkout\n`);
    process.exit(1);
  }
}

function readCache() {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

function writeCache(data) {
  const partial = `${cacheFile}.${process.pid}`;
  try {
    writeFileSync(partial, data);
    renameSync(partial, cacheFile);
  } catch {
    // A read-only install runs without the cache, only slower to start.
  }
}
