/**
 * The FakeEngine's images: looked up by ID, repo:tag (":latest" when none) or repo@digest;
 * tags move between images as `docker tag` moves them; pull and push go through a FakeRegistry
 * the test shares between engines, so a pull finds only what was pushed (or offered). Build and
 * import read their whole input and make an image whose ID is the hash of it: nothing runs.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { EngineImages } from '../engine/engine.js';
import type { BuildLine, BuildRequest, ContainerBuildRequest, EngineImage, ImageConfig, PushProgress, PushResult, RegistryAuth } from '../engine/images.js';
import { failed } from '../errors.js';
import { hexId, labelsMatch, refusal, type FakeCore } from './fake-engine-core.js';

export interface FakeImage {
  id: string;
  /** repo:tag */
  tags: string[];
  /** repo@sha256:… */
  digests: string[];
  labels: Record<string, string>;
  /** The image's USER and environment ("KEY=value"), as processConfig reports them. */
  user: string;
  env: string[];
  /** Files of the image's filesystem (absolute paths), for getArchive. */
  files: Record<string, string>;
  size: number;
  created: number;
}

/** What a test gives to make an image the engine has. */
export interface FakeImageSpec {
  tags: string[];
  labels?: Record<string, string>;
  user?: string;
  env?: string[];
  files?: Record<string, string>;
}

/**
 * The registry fake engines push to and pull from; credentials, when set, must match.
 * `offer` puts an image there as if another machine had pushed it.
 */
export class FakeRegistry {
  readonly #manifests = new Map<string, Omit<FakeImage, 'tags' | 'digests'>>();
  constructor(readonly credentials?: { username: string; password: string }) {}

  offer(repo: string, digest: string, image: Omit<FakeImage, 'tags' | 'digests'>): void {
    this.#manifests.set(`${repo}@${digest}`, image);
  }

  get(repo: string, digest: string): Omit<FakeImage, 'tags' | 'digests'> | undefined {
    return this.#manifests.get(`${repo}@${digest}`);
  }

  admits(auth: RegistryAuth): boolean {
    return !this.credentials || (auth.username === this.credentials.username && auth.password === this.credentials.password);
  }
}

export class FakeImages implements EngineImages {
  readonly #all = new Map<string, FakeImage>();
  /** What the engine pulled and pushed, in order: a test's evidence of distribution. */
  readonly pulls: { repo: string; digest: string }[] = [];
  readonly pushes: { repo: string; tag: string; digest: string }[] = [];
  readonly builds: BuildRequest[] = [];
  /** What buildInContainer was asked, in order. */
  readonly containerBuilds: ContainerBuildRequest[] = [];
  /** The configuration of images made by buildInContainer (others answer theirs from labels, env and user). */
  readonly #configs = new Map<string, ImageConfig>();
  /** Tag → the ID of the image it was last put on. */
  readonly #tagged = new Map<string, string>();

  constructor(
    private readonly core: FakeCore,
    private readonly registry: FakeRegistry | undefined,
    /** Whether a running container uses the image (Docker refuses to remove it then, even forced). */
    private readonly inUse: (imageId: string) => boolean,
  ) {}

  /** Gives the engine an image, as if built or loaded; returns its ID. */
  add(spec: FakeImageSpec): string {
    const id = `sha256:${hexId(JSON.stringify(spec))}`;
    this.#put({ id, tags: [], digests: [], labels: { ...spec.labels }, user: spec.user ?? '', env: [...(spec.env ?? [])], files: { ...spec.files }, size: 1024, created: Math.floor(Date.now() / 1000) }, spec.tags);
    return id;
  }

  /** By ID (or a unique prefix of its hex), repo:tag or repo@digest. */
  find(ref: string): FakeImage | undefined {
    const tag = withTag(ref);
    // A tag is on one image at most: the image it was last put on, if it still has it (keeps a 2,000-image bench linear).
    const direct = this.#all.get(ref) ?? this.#all.get(this.#tagged.get(tag) ?? '');
    if (direct && (direct.id === ref || direct.tags.includes(tag))) return direct;
    const all = [...this.#all.values()];
    const exact = all.find((i) => i.id === ref || i.tags.includes(tag) || i.digests.includes(ref));
    if (exact) return exact;
    const hex = ref.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{4,64}$/.test(hex)) return undefined;
    const prefixed = all.filter((i) => i.id.slice('sha256:'.length).startsWith(hex));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  list(label: string): Promise<EngineImage[]> {
    return this.core.answer('list images', () => [...this.#all.values()].filter((i) => labelsMatch([label], i.labels)).map(summary));
  }

  inspect(ref: string): Promise<EngineImage | undefined> {
    return this.core.answer(`inspect image ${ref}`, () => {
      const image = this.find(ref);
      return image ? { ...summary(image), tags: [...image.tags] } : undefined;
    });
  }

  async has(ref: string): Promise<boolean> {
    return (await this.inspect(ref)) !== undefined;
  }

  remove(ref: string): Promise<void> {
    return this.core.answer(`remove image ${ref}`, () => {
      const image = this.find(ref);
      if (!image) throw refusal(404, `No such image: ${ref}`);
      const tag = withTag(ref);
      if (image.tags.includes(tag) && image.tags.length > 1) {
        image.tags = image.tags.filter((t) => t !== tag);
        this.core.emit('image', 'untag', image.id, { name: tag });
        return;
      }
      if (this.inUse(image.id)) throw refusal(409, `conflict: unable to delete ${image.id.slice(7, 19)} (cannot be forced) - image is being used by running container`);
      this.#all.delete(image.id);
      this.core.emit('image', 'delete', image.id, { name: image.id });
    });
  }

  tag(ref: string, repo: string, tag: string): Promise<void> {
    return this.core.answer(`tag ${ref} as ${repo}:${tag}`, () => {
      const image = this.find(ref);
      if (!image) throw refusal(404, `No such image: ${ref}`);
      this.#put(image, [`${repo}:${tag}`]);
      this.core.emit('image', 'tag', image.id, { name: `${repo}:${tag}` });
    });
  }

  importTarball(file: string, repo: string, tag: string, labels: Record<string, string>): Promise<string> {
    return this.core.answer(`import ${file}`, () => {
      const content = readFileSync(file);
      const id = `sha256:${hexId(Buffer.concat([content, Buffer.from(JSON.stringify(labels))]))}`;
      const existing = this.#all.get(id);
      this.#put(existing ?? { id, tags: [], digests: [], labels: { ...labels }, user: '', env: [], files: {}, size: content.length, created: Math.floor(Date.now() / 1000) }, [`${repo}:${tag}`]);
      this.core.emit('image', 'import', id, { name: `${repo}:${tag}` });
      return id;
    });
  }

  async pull(repo: string, digest: string, auth: RegistryAuth): Promise<{ downloaded: number }> {
    const fix = 'check that the registry runs ("berth registry status"), that this engine trusts its CA and reaches its address, and that the image was pushed ("berth push")';
    const outcome = await this.core.answer(`pull ${repo}@${digest}`, () => {
      if (!this.registry) return { error: `Get https://${repo.split('/')[0]}/v2/: dial tcp: connection refused` } as const;
      if (!this.registry.admits(auth)) return { error: 'unauthorized: authentication required' } as const;
      const found = this.registry.get(repo, digest);
      if (!found) return { error: `manifest for ${repo}@${digest} not found: manifest unknown: manifest unknown` } as const;
      const had = this.#all.get(found.id);
      const image = had ?? { ...found, tags: [], digests: [], files: { ...found.files } };
      if (!image.digests.includes(`${repo}@${digest}`)) image.digests.push(`${repo}@${digest}`);
      this.#all.set(image.id, image);
      this.pulls.push({ repo, digest });
      this.core.emit('image', 'pull', `${repo}@${digest}`, { name: repo });
      return { downloaded: had ? 0 : 1 };
    });
    if ('error' in outcome) throw failed(`the engine at ${this.core.endpoint} could not pull ${repo}@${digest}: ${outcome.error}`, { fix });
    return outcome;
  }

  async push(repo: string, tag: string, auth: RegistryAuth, onProgress?: (p: PushProgress) => void): Promise<PushResult> {
    const outcome = await this.core.answer(`push ${repo}:${tag}`, () => {
      const image = this.find(`${repo}:${tag}`);
      if (!image) return { error: `An image does not exist locally with the tag: ${repo}` } as const;
      if (!this.registry) return { error: `Get https://${repo.split('/')[0]}/v2/: dial tcp: connection refused` } as const;
      if (!this.registry.admits(auth)) return { error: 'unauthorized: authentication required' } as const;
      const digest = `sha256:${hexId(`${image.id} ${repo}`)}`;
      const layer = image.id.slice(7, 19);
      const known = this.registry.get(repo, digest) !== undefined;
      const { tags: _tags, digests: _digests, ...content } = image;
      this.registry.offer(repo, digest, content);
      if (!image.digests.includes(`${repo}@${digest}`)) image.digests.push(`${repo}@${digest}`);
      this.pushes.push({ repo, tag, digest });
      onProgress?.({ layer, status: known ? 'Layer already exists' : 'Pushed' });
      return { digest, size: 527, uploaded: known ? [] : [layer], existing: known ? [layer] : [] };
    });
    if ('error' in outcome) throw failed(`the engine could not push ${repo}:${tag}: ${outcome.error}`);
    return outcome;
  }

  /** `docker save`'s layout with one layer per image: the image's files. Its config is not the one its ID hashes (a fake's IDs hash its inputs). */
  async export(refs: readonly string[]): Promise<Readable> {
    const images = await this.core.answer(`export ${refs.join(', ')}`, () =>
      refs.map((ref) => {
        const image = this.find(ref);
        if (!image) throw refusal(404, `reference does not exist: ${ref}`);
        return image;
      }),
    );
    const out = pack();
    const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    for (const image of images) {
      const layer = pack();
      for (const [path, content] of Object.entries(image.files)) layer.entry({ name: path.replace(/^\//, '') }, content);
      layer.finalize();
      const chunks: Buffer[] = [];
      for await (const chunk of layer) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      const hex = image.id.slice(7);
      out.entry({ name: `${hex}/layer.tar` }, data);
      const config = { config: { Labels: image.labels, Env: image.env, User: image.user }, rootfs: { type: 'layers', diff_ids: [`sha256:${hexId(data)}`] } };
      out.entry({ name: `${hex}.json` }, JSON.stringify(config));
      manifest.push({ Config: `${hex}.json`, RepoTags: [...image.tags], Layers: [`${hex}/layer.tar`] });
    }
    out.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
    out.finalize();
    return Readable.from(out);
  }

  async build(context: Readable, request: BuildRequest, onLine: (line: BuildLine) => void): Promise<string> {
    const chunks: Buffer[] = [];
    await this.core.answer(`build ${request.tag}`, async () => {
      for await (const chunk of context) chunks.push(Buffer.from(chunk as Buffer));
    });
    const id = `sha256:${hexId(Buffer.concat([...chunks, Buffer.from(JSON.stringify([request.labels, request.buildArgs]))]))}`;
    this.#put(this.#all.get(id) ?? { id, tags: [], digests: [], labels: { ...request.labels }, user: '', env: [], files: {}, size: chunks.reduce((n, c) => n + c.length, 0), created: Math.floor(Date.now() / 1000) }, [request.tag]);
    this.builds.push(request);
    onLine({ kind: 'output', stream: 'stdout', text: `Successfully built ${id.slice(7, 19)}` });
    onLine({ kind: 'output', stream: 'stdout', text: `Successfully tagged ${withTag(request.tag)}` });
    return id;
  }

  config(ref: string): Promise<ImageConfig | undefined> {
    return this.core.answer(`inspect image ${ref}`, () => {
      const image = this.find(ref);
      if (!image) return undefined;
      return this.#configs.get(image.id) ?? { env: [...image.env], labels: { ...image.labels }, exposedPorts: [], entrypoint: null, cmd: null, workingDir: '', user: image.user };
    });
  }

  /** Nothing runs: the image's ID is the hash of the parent, the files and the config. */
  async buildInContainer(request: ContainerBuildRequest, onLine: (line: BuildLine) => void): Promise<string> {
    const parent = await this.core.answer(`build ${request.tag}`, () => {
      const found = this.find(request.parent);
      if (!found) throw refusal(404, `No such image: ${request.parent}`);
      return found;
    });
    const id = `sha256:${hexId(Buffer.concat([Buffer.from(parent.id), request.files, Buffer.from(JSON.stringify([request.cmd, request.env, request.config]))]))}`;
    const image = this.#all.get(id) ?? { id, tags: [], digests: [], labels: { ...request.config.labels }, user: request.config.user, env: [...request.config.env], files: { ...parent.files }, size: parent.size + request.files.length, created: Math.floor(Date.now() / 1000) };
    this.#configs.set(id, structuredClone(request.config));
    this.#put(image, [request.tag]);
    this.containerBuilds.push(request);
    onLine({ kind: 'output', stream: 'stdout', text: `built ${id.slice(7, 19)}` });
    return id;
  }

  /** Stores the image with `tags` added, taking each tag from the image that had it. */
  #put(image: FakeImage, tags: string[]): void {
    for (const tag of tags.map(withTag)) {
      for (const other of this.#all.values()) other.tags = other.tags.filter((t) => t !== tag);
      if (!image.tags.includes(tag)) image.tags.push(tag);
      this.#tagged.set(tag, image.id);
    }
    this.#all.set(image.id, image);
  }
}

/** "repo" means "repo:latest"; a digest or an ID stays as it is. */
function withTag(ref: string): string {
  if (ref.includes('@') || ref.startsWith('sha256:')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  return ref.slice(lastSlash + 1).includes(':') ? ref : `${ref}:latest`;
}

function summary(i: FakeImage): EngineImage {
  return { id: i.id, tags: [...i.tags], labels: { ...i.labels }, size: i.size, created: i.created };
}
