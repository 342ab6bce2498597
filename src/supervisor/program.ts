/** Finding a program Berth runs (docker-registry), with the Debian package that brings it. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { notFound } from '../errors.js';

export interface Program {
  /** The file name looked up, e.g. "docker-registry". */
  name: string;
  /** What it is, for the error: "the load balancer program". */
  what: string;
  /** The Debian package that installs it. */
  debianPackage: string;
}

/** Daemons often sit in sbin folders, which a normal user's PATH lacks. */
const KNOWN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin'];

/** How to get a missing program, for an error's fix. */
export function installFix(program: Program): string {
  return `install it: apt-get install ${program.debianPackage} (npm run setup does it)`;
}

/** The program's executable file: on `path` (a PATH value), else in the known sbin and bin folders. */
export function findProgram(program: Program, path: string = process.env.PATH ?? ''): string {
  const file = locateProgram(program.name, path);
  if (file === undefined) throw notFound(`${program.what} ${program.name} is not installed`, { fix: installFix(program) });
  return file;
}

/** An executable file named `name` on `path` or in the known sbin and bin folders; undefined when there is none. */
export function locateProgram(name: string, path: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter).filter((d) => d !== ''), ...KNOWN_DIRS]) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
