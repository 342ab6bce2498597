// Bundled in place of node:http2 (package.json's build): undici's client loads node:http2 at start-up for
// HTTP/2, which Berth never asks for (the engine speaks HTTP/1.1), and with it node:tls and more: ~30 ms
// of every CLI start. undici itself falls back to this shape when node:http2 is missing.
module.exports = { constants: {} };
