/**
 * Builds the front door's image on this machine's engine before the integration files run
 * (scripts/test.mjs): on a clean machine that is a Debian bootstrap (minutes), done once here
 * and timed, instead of inside whichever test first starts a door, under its timeouts. Later
 * runs find it by its key in about a second. Exits 1 (saying why) when it cannot be built:
 * the files that need a door then fail with the same reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEngine } from '../engine/client.js';
import { isBerthError } from '../errors.js';
import { ensureSystemImage } from '../imaging/system-image.js';
import { DOOR_IMAGE } from '../lb/door-image.js';
import { closeStore, openStore } from '../store/db.js';

const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'berth-door-image-'));
const engine = connectEngine(process.env);
const db = await openStore(dir);
let lines = 0;
try {
  const tag = await ensureSystemImage(DOOR_IMAGE, { engine, db, env: process.env, onLine: () => lines++ });
  console.log(`${tag} ${lines > 0 ? 'built' : 'found by its key'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`the door image could not be built: ${isBerthError(error) ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await closeStore(db);
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
}
