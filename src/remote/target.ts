/**
 * Which server the CLI talks to: --server, else BERTH_SERVER, else `server:`
 * in the user's config file ($XDG_CONFIG_HOME/berth/config.yaml, or
 * ~/.config/berth/config.yaml); the token from BERTH_TOKEN, else `token:` in
 * that file. Without a server the CLI works in-process, as before.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { invalid } from '../errors.js';

export interface ServerTarget {
  /** The first server; `others` are tried in turn when it does not answer (BERTH_SERVER=URL,URL,…). */
  url: URL;
  others?: URL[];
  token: string | undefined;
  /** A CA to trust for an https server with a private CA (BERTH_SERVER_CA). */
  ca?: string;
}

export function userConfigFile(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config'), 'berth', 'config.yaml');
}

function userConfig(env: NodeJS.ProcessEnv): { server?: string; token?: string } {
  const file = userConfigFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const value = parse(text) as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${file}: expected a mapping with server: and token:`, { fix: 'write e.g. "server: http://127.0.0.1:7878" and "token: berth_…"' });
  const { server, token } = value as Record<string, unknown>;
  if (server !== undefined && typeof server !== 'string') throw invalid(`${file}: server: expected a URL`, { fix: 'write e.g. server: https://berth.example:7878' });
  if (token !== undefined && typeof token !== 'string') throw invalid(`${file}: token: expected a string`, { fix: 'write the token berth token create printed' });
  return { ...(server ? { server } : {}), ...(token ? { token } : {}) };
}

export function serverTarget(flag: string | undefined, env: NodeJS.ProcessEnv): ServerTarget | undefined {
  const file = userConfig(env);
  const address = flag ?? env.BERTH_SERVER ?? file.server;
  if (address === undefined || address === '') return undefined;
  const [url, ...others] = address.split(',').map((one) => one.trim()).filter((one) => one !== '').map(serverUrl);
  if (!url) return undefined;
  // The file's token goes only to the server the file names (or to any, when it names none): never to another one.
  const fileToken = file.token !== undefined && (file.server === undefined || sameServer(file.server, url)) ? file.token : undefined;
  const token = env.BERTH_TOKEN ?? fileToken;
  return { url, ...(others.length > 0 ? { others } : {}), token: token || undefined, ...(env.BERTH_SERVER_CA ? { ca: env.BERTH_SERVER_CA } : {}) };
}

function serverUrl(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw invalid(`the server address "${address}" is not a URL`, { fix: 'use e.g. http://127.0.0.1:7878 (loopback) or https://berth.example:7878; several servers: a comma-separated list' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`the server address "${address}" is not http:// or https://`, { fix: 'use e.g. https://berth.example:7878' });
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw invalid(`the server ${address} is not on this machine, and plain http would send the token in clear`, { fix: `use https://${url.host} (berth server --tls-cert/--tls-key)` });
  }
  return url;
}

/** A loopback address or localhost; a name that merely starts with "127." (127.evil.example) is not. */
function sameServer(address: string, url: URL): boolean {
  try {
    return new URL(address).origin === url.origin;
  } catch {
    return false;
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}
