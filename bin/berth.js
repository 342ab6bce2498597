#!/usr/bin/env node
// One bundled file: loading ~50 modules one by one costs a third of a no-op build's time.
import { main } from '../dist/berth.mjs';

// A closed pipe (berth images | head) is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
