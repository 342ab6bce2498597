/**
 * The registry's generated TLS material, made with the openssl CLI under
 * <state dir>/registry/tls/: a CA (made once, kept) and a server certificate
 * signed by it whose subjectAltName covers the listen address (made again only
 * when that address changes). Keys are 0600. The openssl CLI rather than a
 * library: it is on every machine Berth runs on and its output is what every
 * TLS stack (Go's in dockerd and Distribution, Node's) accepts.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import { failed, notFound } from '../errors.js';

const run = promisify(execFile);

export interface GeneratedTls {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
  /** The subjectAltName the server certificate was made for. */
  san: string;
}

export function tlsFiles(cert: string): GeneratedTls {
  const dir = dirname(cert);
  return { ca: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert, key: join(dir, 'server.key'), san: join(dir, 'server.san') };
}

/** The names a client may use for a listen address: its host, and loopback; a wildcard adds the machine's IPv4 addresses. Pure. */
export function subjectAltName(listen: string, machineAddresses: readonly string[]): string {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  const wildcard = host === '' || host === '0.0.0.0' || host === '::';
  const names = [...(wildcard ? machineAddresses : [host]), '127.0.0.1', 'localhost'];
  return [...new Set(names)].map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}

/** Makes the CA once and the server certificate when missing or made for another address; returns whether anything was made. */
export async function ensureCertificates(cert: string, listen: string): Promise<{ madeCa: boolean; madeCert: boolean }> {
  const files = tlsFiles(cert);
  mkdirSync(dirname(cert), { recursive: true, mode: 0o700 });
  const madeCa = !existsSync(files.ca) || !existsSync(files.caKey);
  if (madeCa) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.caKey, '-out', files.ca, '-days', '3650', '-subj', '/CN=Berth registry CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    chmodSync(files.caKey, 0o600);
  }
  const san = subjectAltName(listen, machineAddresses());
  const current = existsSync(files.san) ? readFileSync(files.san, 'utf8').trim() : undefined;
  const madeCert = madeCa || current !== san || !existsSync(files.cert) || !existsSync(files.key);
  if (madeCert) {
    const csr = `${files.cert}.csr`;
    const ext = `${files.cert}.ext`;
    writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    try {
      await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', files.key, '-out', csr, '-subj', '/CN=Berth registry']);
      chmodSync(files.key, 0o600);
      await openssl(['x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-out', files.cert, '-days', '825', '-extfile', ext]);
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
    writeFileSync(files.san, `${san}\n`);
  }
  return { madeCa, madeCert };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw notFound('the openssl program is not installed, so Berth cannot make the registry\'s TLS certificates', { fix: 'install it (apt-get install openssl), or name your own under registry.tls: { cert, key, ca }' });
    throw failed(`openssl ${args[0]} failed making the registry's TLS certificates: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' ')}`, { cause: error });
  }
}
