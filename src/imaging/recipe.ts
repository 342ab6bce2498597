/**
 * Turns an image spec into what the engine builds: a Dockerfile and the files
 * of its build context, as plain data. Pure; context.ts packs it.
 */
import { posix } from 'node:path';
import type { ImageSpec } from '../config/model.js';
import type { ContainerBuildRequest, ImageConfig } from '../engine/images.js';
import { invalid } from '../errors.js';
import { BIN_FILES } from './assets.js';
import { APP_PREFIX, type SourceFile } from './inputs.js';

export interface ContextEntry {
  /** Path inside the build context. */
  path: string;
  mode: number;
  /** Exactly one of these. */
  source?: string;
  content?: string;
  symlink?: string;
  folder?: true;
}

export interface Recipe {
  tag: string;
  dockerfile: string;
  entries: ContextEntry[];
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
}

export interface RecipeInput {
  spec: ImageSpec;
  files: readonly SourceFile[];
  key: string;
  /** Image ID (or reference) of the parent, or of the root filesystem for a root. */
  parentRef: string;
  /** The human name of what it is built on: berth/jdk17:abc… or berth-root/bookworm:def… */
  baseName: string;
  depth: number;
  mirror: string;
  proxy: { http?: string; https?: string; noProxy?: string };
  project: string;
  revision?: string;
  created: string;
}

export const BERTH_HOME = '/opt/berth';

export function imageTag(name: string, key: string): string {
  return `berth/${name}:${key.slice(0, 12)}`;
}

export function recipeFor(input: RecipeInput): Recipe {
  const { spec } = input;
  const isRoot = spec.from === undefined;
  return {
    tag: imageTag(spec.name, input.key),
    dockerfile: dockerfile(spec, input.parentRef, isRoot),
    entries: contextEntries(spec, input.files, input.depth, isRoot),
    labels: labels(input),
    buildArgs: buildArgs(input),
  };
}

function dockerfile(spec: ImageSpec, parentRef: string, isRoot: boolean): string {
  const lines = [`FROM ${parentRef}`];
  if (Object.keys(spec.env).length > 0) lines.push(`ENV ${Object.entries(spec.env).map(([k, v]) => `${k}=${quote(v)}`).join(' ')}`);
  lines.push('COPY rootfs/ /', 'ARG BERTH_MIRROR', `RUN ["${BERTH_HOME}/bin/run-static", ${JSON.stringify(spec.name)}]`);
  if (spec.workdir) lines.push(workdirLine(spec.name, spec.workdir));
  if (spec.user) lines.push(`ENV BERTH_USER=${quote(spec.user)}`);
  if (spec.ports.length > 0) lines.push(`EXPOSE ${spec.ports.join(' ')}`);
  if (isRoot) lines.push(`ENTRYPOINT ["${BERTH_HOME}/bin/init"]`);
  if (spec.command) lines.push(`CMD ${JSON.stringify(spec.command)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * WORKDIR has no quoted (JSON) form and expands `$` and `\`, so a path that
 * could end its line or expand is refused here too (loading the project
 * already refuses it, with its file and line).
 */
function workdirLine(image: string, workdir: string): string {
  if (/[\u0000-\u001f\u007f$\\]/.test(workdir)) {
    throw invalid(`image ${image}: its workdir ${JSON.stringify(workdir)} cannot be written into a Dockerfile`, { fix: 'use an absolute path on one line, without "$" or "\\"' });
  }
  return `WORKDIR ${workdir}`;
}

/** Dockerfile strings: JSON escaping plus `$`, which ENV would otherwise expand. */
function quote(value: string): string {
  return JSON.stringify(value).replace(/\$/g, '\\$');
}

function contextEntries(spec: ImageSpec, files: readonly SourceFile[], depth: number, isRoot: boolean): ContextEntry[] {
  const home = `rootfs${BERTH_HOME}`;
  const entries: ContextEntry[] = [];
  for (const file of files) {
    const target = file.rel.startsWith('static/')
      ? posix.join('rootfs', file.rel.slice('static/'.length))
      : file.rel.startsWith(`${APP_PREFIX}/`) && spec.app
        ? posix.join('rootfs', spec.app.dest, file.rel.slice(APP_PREFIX.length + 1))
        : posix.join(home, 'images', spec.name, file.rel);
    entries.push(file.symlink !== undefined ? { path: target, mode: file.mode, symlink: file.symlink } : { path: target, mode: file.mode, source: file.abs });
  }
  if (spec.hasRuntime) {
    const order = String(depth).padStart(2, '0');
    entries.push({ path: `${home}/runtime.d/${order}-${spec.name}.sh`, mode: 0o777, symlink: `../images/${spec.name}/runtime.sh` });
  }
  if (isRoot) {
    for (const file of BIN_FILES) entries.push({ path: `${home}/bin/${file.name}`, mode: file.mode, content: file.content });
  }
  return entries;
}

function labels(input: RecipeInput): Record<string, string> {
  return {
    ...input.spec.labels,
    'org.opencontainers.image.created': input.created,
    'org.opencontainers.image.base.name': input.baseName,
    'org.opencontainers.image.title': input.spec.name,
    ...(input.revision ? { 'org.opencontainers.image.revision': input.revision } : {}),
    'berth.project': input.project,
    'berth.image': input.spec.name,
    'berth.parent': input.spec.from ?? '',
    'berth.key': input.key,
  };
}

/** Proxies go through the engine's predefined proxy args, which it keeps out of the image history. */
function buildArgs(input: RecipeInput): Record<string, string> {
  const args: Record<string, string> = { BERTH_MIRROR: input.mirror };
  const { http, https, noProxy } = input.proxy;
  if (http) Object.assign(args, { HTTP_PROXY: http, http_proxy: http });
  if (https) Object.assign(args, { HTTPS_PROXY: https, https_proxy: https });
  if (noProxy) Object.assign(args, { NO_PROXY: noProxy, no_proxy: noProxy });
  return args;
}

/** What one-container builds (the engine's buildInContainer) are asked: the files still as entries, to be packed. */
export type ContainerRecipe = Omit<ContainerBuildRequest, 'files'> & { entries: ContextEntry[] };

/**
 * The build arguments reach static.sh through this file, read and removed by the run's
 * shell before static.sh starts: put in the container's environment, the engine's commit would
 * keep them in the image (proxy URLs may carry credentials). Created and removed in one
 * container, it leaves nothing in the image's layer.
 */
export const BUILD_ARGS_FILE = `${BERTH_HOME}/.build-args`;

/** The run: the build arguments, then run-static (traced, as the Dockerfile's RUN), then the workdir as WORKDIR makes it after. */
const RUN_SCRIPT = `set -a; . ${BUILD_ARGS_FILE}; set +a; rm -f ${BUILD_ARGS_FILE}; ${BERTH_HOME}/bin/run-static "$1" || exit; [ -z "$2" ] || mkdir -p "$2"`;

/**
 * The same image as recipeFor's Dockerfile, made in one container: its files at / (with their
 * folders, 0755 and root's, as COPY leaves them), run-static, and the configuration the
 * Dockerfile's instructions would leave, from the parent's.
 */
export function containerRecipeFor(input: RecipeInput, parent: ImageConfig): ContainerRecipe {
  const { spec } = input;
  const isRoot = spec.from === undefined;
  if (spec.workdir) workdirLine(spec.name, spec.workdir);
  const files = contextEntries(spec, input.files, input.depth, isRoot).map((e) => ({ ...e, path: e.path.slice('rootfs/'.length) }));
  const args = Object.entries(buildArgs(input)).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join('');
  const entries = withFolders([...files, { path: BUILD_ARGS_FILE.slice(1), mode: 0o600, content: args }]);
  const imageLabels = { ...parent.labels, ...labels(input) };
  const runEnv = withEnv(withDefaultPath(parent.env), Object.entries(spec.env));
  const config: ImageConfig = {
    env: spec.user ? withEnv(runEnv, [['BERTH_USER', spec.user]]) : runEnv,
    labels: imageLabels,
    exposedPorts: [...new Set([...parent.exposedPorts, ...spec.ports.map((p) => (p.includes('/') ? p : `${p}/tcp`))])],
    // ENTRYPOINT resets the command unless a CMD follows.
    entrypoint: isRoot ? [`${BERTH_HOME}/bin/init`] : parent.entrypoint,
    cmd: spec.command ?? (isRoot ? null : parent.cmd),
    workingDir: spec.workdir ?? parent.workingDir,
    user: parent.user,
  };
  if (!config.entrypoint || config.entrypoint.length === 0) {
    throw invalid(`image ${spec.name}: its parent has no entrypoint, so a one-container build cannot keep its command`, { fix: 'build it on a Berth root image' });
  }
  return {
    tag: imageTag(spec.name, input.key),
    parent: input.parentRef,
    entries,
    cmd: ['/bin/sh', '-c', RUN_SCRIPT, 'berth-build', spec.name, spec.workdir ?? ''],
    env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    labels: imageLabels,
    config,
  };
}

/** The engine's default PATH for Linux, which its Dockerfile builds add to an image that has none. */
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function withDefaultPath(env: readonly string[]): string[] {
  return env.some((e) => e.startsWith('PATH=')) ? [...env] : [...env, DEFAULT_PATH];
}

/** ENV's way: a key already set keeps its place with the new value, a new one goes at the end. */
function withEnv(env: readonly string[], set: readonly [string, string][]): string[] {
  const out = [...env];
  for (const [key, value] of set) {
    const at = out.findIndex((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) === key);
    if (at >= 0) out[at] = `${key}=${value}`;
    else out.push(`${key}=${value}`);
  }
  return out;
}

/** Every entry's folders, before it, once. */
function withFolders(entries: readonly ContextEntry[]): ContextEntry[] {
  const out: ContextEntry[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (seen.has(folder)) continue;
      seen.add(folder);
      out.push({ path: folder, mode: 0o755, folder: true });
    }
    out.push(entry);
  }
  return out;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
