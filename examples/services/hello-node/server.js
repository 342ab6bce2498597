'use strict';
const http = require('node:http');
const fs = require('node:fs');

const port = Number(process.env.PORT || 8080);

// The instance context from base/runtime.sh; the process environment when run outside Berth.
function context() {
  let lines;
  try {
    lines = fs.readFileSync('/run/berth/context.env', 'utf8').split('\n');
  } catch {
    lines = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  }
  const out = {};
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.startsWith('BERTH_')) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('ok');
  } else if (path === '/') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ app: 'hello-node', node: process.version, context: context() }) + '\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }
});

server.listen(port, () => console.log(`hello-node: listening on port ${port}`));

// The engine sends SIGTERM and kills after a grace period: finish in-flight requests, drop idle keep-alive connections, exit 0.
function stop(signal) {
  console.log(`hello-node: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 900).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
