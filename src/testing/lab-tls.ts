/**
 * TLS material for a lab, made with the openssl CLI (no npm library makes
 * X.509 certificates as simply): a CA, a server certificate per engine with its
 * IP as subjectAltName, and one client certificate. Keys are 0600.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DAYS = '7';
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface LabTls {
  /** The CA's certificate (the CA key stays in the folder, to sign more). */
  ca: string;
  caKey: string;
  client: TlsFiles;
  server(name: string): TlsFiles;
}

export async function makeLabTls(dir: string, servers: { name: string; ip: string }[]): Promise<LabTls> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  await openssl(['req', '-x509', ...NEW_KEY, '-keyout', caKey, '-out', ca, '-days', DAYS, '-subj', '/CN=berth-lab-ca']);
  chmodSync(caKey, 0o600);
  // A random serial each: a shared serial file would race between certificates signed at once.
  const sign = async (name: string, extensions: string) => {
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}-key.pem`);
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    await openssl(['req', ...NEW_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
    chmodSync(key, 0o600);
    writeFileSync(ext, extensions);
    await openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-out', cert, '-days', DAYS, '-extfile', ext]);
    rmSync(csr);
    rmSync(ext);
    return { ca, cert, key };
  };
  const client = await sign('client', 'extendedKeyUsage=clientAuth\n');
  const issued = new Map<string, TlsFiles>();
  await Promise.all(servers.map(async ({ name, ip }) => issued.set(name, await sign(name, `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`))));
  return {
    ca,
    caKey,
    client,
    server(name) {
      const files = issued.get(name);
      if (!files) throw new Error(`no server certificate for ${name}`);
      return files;
    },
  };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 60_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr || e.message).trim()}`);
  }
}
