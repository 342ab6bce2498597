/** The validated project, as plain data. Everything downstream reads only this. */

export interface DebianRoot {
  kind: 'debian';
  suite: string;
  variant: string;
  packages: string[];
  mirror: string;
}

export interface TarballRoot {
  kind: 'tarball';
  /** Absolute path of the rootfs tarball. */
  path: string;
}

export type RootSpec = DebianRoot | TarballRoot;

export interface AppSpec {
  /** Absolute path of the app's files (a folder or one file). */
  path: string;
  /** Where they land in the image. */
  dest: string;
}

export interface ImageSettings {
  from?: string;
  root?: RootSpec;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: string[];
  workdir?: string;
  user?: string;
  app?: AppSpec;
  command?: string[];
}

export interface ImageSpec extends ImageSettings {
  name: string;
  /** Absolute path of images/<name>/. */
  dir: string;
  /** The file its settings came from (berth.yaml or image.yaml), for messages. */
  settingsFile: string;
  hasRuntime: boolean;
  hasStatic: boolean;
}

export interface BuildSettings {
  concurrency: number;
  /** Package mirror handed to static.sh as BERTH_MIRROR and used to bootstrap roots. */
  mirror: string;
  /** Proxy settings, passed as the engine's predefined proxy build args (kept out of image history). */
  proxy: { http?: string; https?: string; noProxy?: string };
  sourceDateEpoch?: number;
}

export interface Project {
  name: string;
  /** Absolute folder holding berth.yaml. */
  dir: string;
  /** Absolute path of berth.yaml. */
  file: string;
  images: Map<string, ImageSpec>;
  build: BuildSettings;
  /** Where Berth keeps its store and caches for this project. */
  stateDir: string;
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
