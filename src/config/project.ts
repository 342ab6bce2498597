/**
 * Loads and validates a project: berth.yaml plus the folders under images/.
 * All problems are collected and thrown together; nothing runs on an invalid project.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { notFound } from '../errors.js';
import { graphProblems } from '../imaging/graph.js';
import { buildShape, IMAGE_NAME, IMAGE_NAME_HINT, imageShape } from './image-schema.js';
import { DEFAULT_MIRROR, type ImageSpec, type Project, type ReadableFiles, type RootSpec } from './model.js';
import { refuseUnreadable } from './readable-files.js';
import { ProblemList } from './problems.js';
import { Checker, mapOf, object, optional, required, str } from './schema.js';
import { didYouMean } from './suggest.js';
import { YamlSource, type KeyPath } from './yaml-source.js';
import { runConfig } from './run-config.js';
import { shipConfig } from './ship-config.js';

export const PROJECT_FILE = 'berth.yaml';

const projectShape = object({
  project: required(str({ pattern: /^[a-z0-9][a-z0-9-]*$/, hint: 'a project name of lowercase letters, digits and -' })),
  images: optional(mapOf((v) => v)),
  build: optional((v) => v),
  registry: optional((v) => v),
  retention: optional((v) => v),
  fleet: optional((v) => v),
  hosts: optional((v) => v),
  networks: optional((v) => v),
  services: optional((v) => v),
  environments: optional((v) => v),
  pipeline: optional((v) => v),
});

type ImageFields = NonNullable<ReturnType<typeof imageShape>>;

interface RawImage {
  name: string;
  source: YamlSource;
  /** Where the image's settings sit inside `source`. */
  prefix: KeyPath;
  fields: ImageFields;
}

/** Finds berth.yaml: the given file or folder, else the current folder. */
export function findProjectFile(path: string | undefined, cwd = process.cwd()): string {
  const candidate = resolve(cwd, path ?? '.');
  const file = existsSync(candidate) && statSync(candidate).isDirectory() ? join(candidate, PROJECT_FILE) : candidate;
  if (!existsSync(file)) {
    throw notFound(`no ${PROJECT_FILE} at ${relative(cwd, file) || file}`, {
      fix: `run berth in a folder with a ${PROJECT_FILE}, or pass --project <path>; examples/ has a complete one`,
    });
  }
  return file;
}

export interface LoadOptions {
  /** A server's load: what the configuration may read on its machine (readable-files.ts); a file it names outside that is refused. */
  readable?: ReadableFiles;
}

export function loadProject(path?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), options: LoadOptions = {}): Project {
  const file = findProjectFile(path, cwd);
  const dir = dirname(file);
  const problems = new ProblemList();
  const display = (p: string) => relative(cwd, p) || basename(p);

  const source = YamlSource.parse(display(file), readFileSync(file, 'utf8'));
  const check = new Checker();
  const top = projectShape(source.value, [], check) ?? {};
  problems.addAll(source, check.problems);

  const buildCheck = new Checker();
  const build = buildShape(top.build ?? {}, ['build'], buildCheck) ?? {};
  problems.addAll(source, buildCheck.problems);

  const raws = collectImages(dir, source, top.images ?? {}, problems, display);
  const images = new Map<string, ImageSpec>();
  for (const raw of raws) {
    const spec = toImageSpec(raw, dir, build.mirror ?? DEFAULT_MIRROR, problems, display);
    if (spec) images.set(spec.name, spec);
  }
  checkGraph(raws, images, problems);
  const stateDir = env.BERTH_STATE_DIR ? resolve(cwd, env.BERTH_STATE_DIR) : join(dir, '.berth');
  const ship = shipConfig(top, source, problems, dir, stateDir);
  const run = runConfig(top, source, problems, dir, images, env);
  if (options.readable) {
    // Before the other problems: a file outside is refused whether it exists or not, so the answer tells nothing of the server's files.
    refuseUnreadable({ dir, ...ship, ...run, readable: options.readable }, top.hosts === undefined || (Array.isArray(top.hosts) && top.hosts.length === 0));
  }
  problems.throwIfAny();

  const proxy = build.proxy ?? {};
  return {
    ...(options.readable ? { readable: options.readable } : {}),
    name: top.project!,
    dir,
    file,
    images,
    stateDir,
    ...ship,
    ...run,
    build: {
      concurrency: build.concurrency ?? 2,
      mirror: build.mirror ?? DEFAULT_MIRROR,
      proxy: {
        ...(proxy.http ?? env.HTTP_PROXY ?? env.http_proxy ? { http: proxy.http ?? env.HTTP_PROXY ?? env.http_proxy } : {}),
        ...(proxy.https ?? env.HTTPS_PROXY ?? env.https_proxy ? { https: proxy.https ?? env.HTTPS_PROXY ?? env.https_proxy } : {}),
        ...(proxy.no_proxy ?? env.NO_PROXY ?? env.no_proxy ? { noProxy: proxy.no_proxy ?? env.NO_PROXY ?? env.no_proxy } : {}),
      },
      ...(build.source_date_epoch !== undefined ? { sourceDateEpoch: build.source_date_epoch } : {}),
    },
  };
}

/** Images come from berth.yaml `images:` and from folders images/<name>/ (with an optional image.yaml). */
function collectImages(
  dir: string,
  source: YamlSource,
  declared: Record<string, unknown>,
  problems: ProblemList,
  display: (p: string) => string,
): RawImage[] {
  const imagesDir = join(dir, 'images');
  const folders = existsSync(imagesDir) ? readdirSync(imagesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];
  const raws: RawImage[] = [];
  const hasFolder = new Set(folders);

  for (const [name, value] of Object.entries(declared)) {
    if (!IMAGE_NAME.test(name)) problems.at(source, ['images', name], `"${name}" is not ${IMAGE_NAME_HINT}`);
    if (!hasFolder.has(name)) {
      problems.at(source, ['images', name], `image "${name}" has no folder ${display(join(imagesDir, name))}/${didYouMean(name, folders)}`, `create ${display(join(imagesDir, name))}/static.sh, or rename the key to match its folder`);
      continue;
    }
    const check = new Checker();
    const fields = imageShape(value, ['images', name], check);
    problems.addAll(source, check.problems);
    if (fields) raws.push({ name, source, prefix: ['images', name], fields });
  }

  for (const name of folders) {
    const imageFile = join(imagesDir, name, 'image.yaml');
    if (!existsSync(imageFile)) {
      if (!Object.hasOwn(declared, name)) {
        problems.file(display(join(imagesDir, name)), `folder has no settings: neither images.${name} in ${source.file} nor an image.yaml`, `add images/${name}/image.yaml with at least "from: <parent>" (or "root:" for a root image)`);
      }
      continue;
    }
    if (Object.hasOwn(declared, name)) {
      problems.at(source, ['images', name], `settings for "${name}" are both here and in ${display(imageFile)}`, 'keep them in one place');
      continue;
    }
    if (!IMAGE_NAME.test(name)) problems.file(display(join(imagesDir, name)), `"${name}" is not ${IMAGE_NAME_HINT}`, 'rename the folder');
    const imageSource = YamlSource.parse(display(imageFile), readFileSync(imageFile, 'utf8'));
    const check = new Checker();
    const fields = imageShape(imageSource.value, [], check);
    problems.addAll(imageSource, check.problems);
    if (fields) raws.push({ name, source: imageSource, prefix: [], fields });
  }
  return raws;
}

function toImageSpec(raw: RawImage, projectDir: string, mirror: string, problems: ProblemList, display: (p: string) => string): ImageSpec | undefined {
  const { name, source, prefix, fields } = raw;
  const dir = join(projectDir, 'images', name);
  const count = problems.count;

  const staticScript = join(dir, 'static.sh');
  const runtimeScript = join(dir, 'runtime.sh');
  checkScript(staticScript, true, problems, display);
  const hasRuntime = checkScript(runtimeScript, false, problems, display);
  const staticDir = join(dir, 'static');
  const hasStatic = existsSync(staticDir);
  if (hasStatic && !statSync(staticDir).isDirectory()) problems.file(display(staticDir), 'expected a folder of files to copy into the image', `move the file into ${display(staticDir)}/`);

  let root: RootSpec | undefined;
  if (fields.from !== undefined && fields.root !== undefined) {
    problems.at(source, [...prefix, 'root'], 'an image has either "from:" (a parent) or "root:" (a root filesystem), not both', 'remove one of them');
  } else if (fields.from === undefined && fields.root === undefined) {
    problems.at(source, prefix, `image "${name}" has neither "from:" nor "root:"`, 'set "from: <parent image>" or, for a root image, "root: { suite: bookworm }"');
  } else if (fields.root) {
    root = toRoot(fields.root, source, [...prefix, 'root'], projectDir, mirror, problems);
  }

  let app: ImageSpec['app'];
  if (fields.app?.path !== undefined) {
    const appPath = resolve(projectDir, fields.app.path);
    if (!existsSync(appPath)) problems.at(source, [...prefix, 'app', 'path'], `no such file or folder: ${display(appPath)}`, 'app.path is relative to the folder of berth.yaml');
    app = { path: appPath, dest: fields.app.dest ?? '/srv/app' };
  }
  if (problems.count > count) return undefined;

  return {
    name,
    dir,
    settingsFile: source.file,
    hasRuntime,
    hasStatic,
    ...(fields.from !== undefined ? { from: fields.from } : {}),
    ...(root ? { root } : {}),
    env: fields.env ?? {},
    labels: fields.labels ?? {},
    ports: fields.ports ?? [],
    ...(fields.workdir !== undefined ? { workdir: fields.workdir } : {}),
    ...(fields.user !== undefined ? { user: fields.user } : {}),
    ...(app ? { app } : {}),
    ...(fields.command !== undefined ? { command: fields.command } : {}),
  };
}

function toRoot(root: NonNullable<ImageFields['root']>, source: YamlSource, path: KeyPath, projectDir: string, mirror: string, problems: ProblemList): RootSpec | undefined {
  if (root.tarball !== undefined) {
    if (root.suite !== undefined || root.packages !== undefined) {
      problems.at(source, path, 'a root is either a Debian bootstrap (suite, packages) or a tarball, not both', 'remove "tarball:" or the bootstrap keys');
      return undefined;
    }
    const file = resolve(projectDir, root.tarball);
    if (!existsSync(file)) {
      problems.at(source, [...path, 'tarball'], `no such file: ${root.tarball}`, 'the path is relative to the folder of berth.yaml');
      return undefined;
    }
    return { kind: 'tarball', path: file };
  }
  return {
    kind: 'debian',
    suite: root.suite ?? 'bookworm',
    variant: root.variant ?? 'minbase',
    packages: [...new Set(root.packages ?? [])].sort(),
    mirror: root.mirror ?? mirror,
  };
}

/** Returns whether the script exists; reports it missing (when required) or not executable. */
function checkScript(file: string, isRequired: boolean, problems: ProblemList, display: (p: string) => string): boolean {
  if (!existsSync(file)) {
    if (isRequired) problems.file(display(file), 'missing: every image needs a static.sh (run once at build time)', `create it (it may be just "#!/bin/sh"), then chmod +x ${display(file)}`);
    return false;
  }
  if ((statSync(file).mode & 0o111) === 0) {
    problems.file(display(file), 'is not executable', `chmod +x ${display(file)}`);
  }
  return true;
}

function checkGraph(raws: readonly RawImage[], images: Map<string, ImageSpec>, problems: ProblemList): void {
  const names = raws.map((r) => r.name);
  const nodes = raws.map((r) => ({ name: r.name, parent: r.fields.from }));
  for (const problem of graphProblems(nodes)) {
    if (problem.kind === 'unknown-parent') {
      const raw = raws.find((r) => r.name === problem.name)!;
      problems.at(raw.source, [...raw.prefix, 'from'], `unknown image "${problem.parent}"${didYouMean(problem.parent, names.filter((n) => n !== raw.name))}`, `name one of: ${names.filter((n) => n !== raw.name).join(', ')}`);
      images.delete(problem.name);
    } else {
      const raw = raws.find((r) => r.name === problem.names[0])!;
      problems.at(raw.source, [...raw.prefix, 'from'], `cycle in "from:": ${[...problem.names, problem.names[0]].join(' → ')}`, 'one image of the cycle must start from a root or another parent');
    }
  }
}
