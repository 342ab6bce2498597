/**
 * A small client for the Registry HTTP API v2 over node:http(s): what push
 * verification, status and garbage collection need. Manifests are always asked
 * for with the v2/OCI media types: without them Distribution converts to
 * schema 1 and answers with a different digest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { BerthError, failed, forbidden, unavailable } from '../errors.js';

export const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface RegistryClientOptions {
  /** PEM of the registry's certificate (or its CA), when it serves TLS. */
  ca?: string;
  /** A file with that PEM, read at the first call (a generated CA exists only once the registry was started). */
  caFile?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  body: Buffer;
  /** Config and layer digests (for an index: its manifests' digests). */
  blobs: { digest: string; size: number }[];
}

export class RegistryClient {
  constructor(
    /** host:port */
    readonly address: string,
    private readonly options: RegistryClientOptions = {},
  ) {}

  get url(): string {
    return `${this.options.ca || this.options.caFile ? 'https' : 'http'}://${this.address}`;
  }

  /** Answers when the registry serves the API; throws `unavailable` when nothing answers. */
  async ping(): Promise<void> {
    const r = await this.request('GET', '/v2/');
    this.expect(r, [200], 'answer /v2/');
  }

  /** The digest a tag or digest resolves to, or undefined when absent. */
  async manifestDigest(repository: string, reference: string): Promise<{ digest: string; size: number } | undefined> {
    const r = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, { Accept: MANIFEST_TYPES });
    if (r.status === 404) return undefined;
    this.expect(r, [200], `look up ${repository}:${reference}`);
    return { digest: String(r.headers['docker-content-digest'] ?? ''), size: Number(r.headers['content-length'] ?? 0) };
  }

  async manifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const r = await this.request('GET', `/v2/${repository}/manifests/${reference}`, { Accept: MANIFEST_TYPES });
    if (r.status === 404) return undefined;
    this.expect(r, [200], `read the manifest ${repository}@${reference}`);
    const json = JSON.parse(r.body.toString('utf8')) as {
      mediaType?: string;
      config?: { digest: string; size: number };
      layers?: { digest: string; size: number }[];
      manifests?: { digest: string; size: number }[];
    };
    const blobs = [...(json.config ? [json.config] : []), ...(json.layers ?? []), ...(json.manifests ?? [])].map((b) => ({ digest: b.digest, size: b.size }));
    return { digest: String(r.headers['docker-content-digest'] ?? sha256(r.body)), mediaType: json.mediaType ?? String(r.headers['content-type']), body: r.body, blobs };
  }

  /** DELETE by digest (removes every tag pointing at it). False when it was not there. */
  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const r = await this.request('DELETE', `/v2/${repository}/manifests/${digest}`, { Accept: MANIFEST_TYPES });
    if (r.status === 404) return false;
    this.expect(r, [202], `delete ${repository}@${digest}`);
    return true;
  }

  /** A blob's size, or undefined when the repository cannot serve it. */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    const r = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`);
    if (r.status === 404) return undefined;
    this.expect(r, [200, 307], `look up blob ${digest} in ${repository}`);
    return Number(r.headers['content-length'] ?? 0);
  }

  async blob(repository: string, digest: string): Promise<Buffer | undefined> {
    const r = await this.request('GET', `/v2/${repository}/blobs/${digest}`);
    if (r.status === 404) return undefined;
    this.expect(r, [200], `read blob ${digest} from ${repository}`);
    return r.body;
  }

  /** Uploads one blob (monolithic); returns its digest. A small write that proves the registry accepts pushes. */
  async uploadBlob(repository: string, data: Buffer): Promise<string> {
    const digest = `sha256:${sha256(data)}`;
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/`, { 'Content-Length': '0' });
    this.expect(start, [202], `start an upload to ${repository}`);
    const location = new URL(String(start.headers.location), this.url);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location.pathname + location.search, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) }, data);
    this.expect(put, [201], `finish an upload to ${repository}`);
    return digest;
  }

  /**
   * Makes `digest` present in `repository`: mounted from `from` when that repository has it (no data sent),
   * else uploaded from `data` (opened only then). Returns how it got there.
   */
  async putBlob(repository: string, digest: string, size: number, data: () => Readable, from?: string): Promise<'mounted' | 'uploaded'> {
    const query = from !== undefined && from !== repository ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}` : '';
    const start = await this.request('POST', `/v2/${repository}/blobs/uploads/${query}`, { 'Content-Length': '0' });
    if (start.status === 201) return 'mounted';
    // 202: not mountable from there; the registry opened an upload session instead, which the data goes to.
    this.expect(start, [202], `start an upload to ${repository}`);
    const location = new URL(String(start.headers.location), this.url);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location.pathname + location.search, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, data);
    this.expect(put, [201], `upload blob ${digest} to ${repository}`);
    return 'uploaded';
  }

  /** Puts a manifest under a tag; returns the digest the registry gives it. */
  async putManifest(repository: string, tag: string, mediaType: string, body: Buffer): Promise<string> {
    const r = await this.request('PUT', `/v2/${repository}/manifests/${tag}`, { 'Content-Type': mediaType, 'Content-Length': String(body.length) }, body);
    this.expect(r, [201], `store the manifest ${repository}:${tag}`);
    return String(r.headers['docker-content-digest'] ?? `sha256:${sha256(body)}`);
  }

  /** Every repository, following pagination. */
  async catalog(): Promise<string[]> {
    return this.paged('/v2/_catalog?n=1000', 'repositories', 'list repositories');
  }

  /** A repository's tags; none when the repository does not exist. */
  async tags(repository: string): Promise<string[]> {
    return this.paged(`/v2/${repository}/tags/list?n=1000`, 'tags', `list the tags of ${repository}`);
  }

  private async paged(first: string, field: 'repositories' | 'tags', what: string): Promise<string[]> {
    const all: string[] = [];
    let path: string | undefined = first;
    while (path) {
      const r = await this.request('GET', path);
      if (r.status === 404 && field === 'tags') return all;
      this.expect(r, [200], what);
      all.push(...(((JSON.parse(r.body.toString('utf8')) as Record<string, string[] | null>)[field]) ?? []));
      const link = /<([^>]+)>;\s*rel="next"/.exec(String(r.headers.link ?? ''));
      path = link ? link[1] : undefined;
    }
    return all;
  }

  /** `body` as a function opens a stream only when the request is sent (so a retry sends it afresh). */
  async request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | (() => Readable)): Promise<Response> {
    const { username, password } = this.options;
    const ca = this.ca();
    const auth = username !== undefined ? { Authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` } : {};
    const [host, port] = splitAddress(this.address);
    const send = ca ? httpsRequest : httpRequest;
    try {
      return await new Promise<Response>((resolve, reject) => {
        const req = send({ method, host, port, path, headers: { ...auth, ...headers }, ...(ca ? { ca } : {}) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(this.options.timeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
        if (typeof body === 'function') {
          const source = body();
          source.on('error', (error) => req.destroy(error));
          source.pipe(req);
        } else req.end(body);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw unavailable(`the registry at ${this.url} is not answering (${code})`, {
        fix: 'start it with "berth registry up" (see "berth registry status"), or check registry.listen in berth.yaml',
        cause: error,
      });
    }
  }

  #ca: string | undefined;

  private ca(): string | undefined {
    if (this.options.ca || !this.options.caFile) return this.options.ca;
    try {
      this.#ca ??= readFileSync(this.options.caFile, 'utf8');
    } catch (error) {
      throw unavailable(`the registry's CA ${this.options.caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
        fix: 'start the registry once with "berth registry up" (it makes the CA), or correct registry.tls in berth.yaml',
        cause: error,
      });
    }
    return this.#ca;
  }

  private expect(r: Response, ok: number[], what: string): void {
    if (ok.includes(r.status)) return;
    throw registryError(r, this.url, what);
  }
}

/** The registry's own error message (its JSON `errors`, else the body). */
export function registryError(r: Response, url: string, what: string): BerthError {
  let detail = r.body.toString('utf8').trim();
  try {
    const errors = (JSON.parse(detail) as { errors?: { code?: string; message?: string; detail?: unknown }[] }).errors ?? [];
    if (errors.length > 0) detail = errors.map((e) => [e.code, e.message, typeof e.detail === 'string' ? e.detail : ''].filter(Boolean).join(': ')).join('; ');
  } catch {
    // Not JSON: the text itself.
  }
  detail = detail.slice(0, 500) || `HTTP ${r.status}`;
  if (r.status === 401 || r.status === 403) {
    return forbidden(`the registry at ${url} refused to ${what}: ${detail}`, { fix: 'check registry.username and registry.password against the htpasswd file in berth.yaml' });
  }
  if (r.status === 405) return unavailable(`the registry at ${url} refused to ${what}: it is read-only (${detail})`, { fix: 'wait for "berth registry gc" to finish, or run "berth registry up" to make it writable' });
  if (r.status === 503) return unavailable(`the registry at ${url} is unhealthy and could not ${what}: ${detail}`, { fix: `check its storage and its log ("berth registry status")` });
  return failed(`the registry at ${url} failed to ${what} (HTTP ${r.status}): ${detail}`, { fix: 'see the registry log ("berth registry status" names it)' });
}

export function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A client for the project's registry, with its credentials and certificate. */
export function clientFor(settings: { tls?: { cert: string; ca?: string }; username?: string }, address: string, password: string | undefined): RegistryClient {
  return new RegistryClient(address, {
    ...(settings.tls ? { caFile: settings.tls.ca ?? settings.tls.cert } : {}),
    ...(settings.username !== undefined ? { username: settings.username, password: password ?? '' } : {}),
  });
}
