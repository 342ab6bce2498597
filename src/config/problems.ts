import { BerthError, BerthErrors, invalid } from '../errors.js';
import type { Problem } from './schema.js';
import type { KeyPath, YamlSource } from './yaml-source.js';

/** `images.jdk17.ports[0]` */
export function renderPath(path: KeyPath): string {
  return path.reduce<string>((out, segment) => (typeof segment === 'number' ? `${out}[${segment}]` : out ? `${out}.${segment}` : segment), '');
}

/** Collects problems from several files and turns them into one error at the end. */
export class ProblemList {
  private readonly errors: BerthError[] = [];

  /** A problem at a key path of a YAML file: "berth.yaml:12: images.jdk17.from: ...". */
  at(source: YamlSource, path: KeyPath, message: string, fix?: string): void {
    const key = renderPath(path);
    this.errors.push(invalid(`${source.where(path)}: ${key ? `${key}: ` : ''}${message}`, fix === undefined ? {} : { fix }));
  }

  /** A problem about a file or folder rather than a key. */
  file(file: string, message: string, fix?: string): void {
    this.errors.push(invalid(`${file}: ${message}`, fix === undefined ? {} : { fix }));
  }

  addAll(source: YamlSource, problems: readonly Problem[], prefix: KeyPath = []): void {
    for (const p of problems) this.at(source, [...prefix, ...p.path], p.message, p.fix);
  }

  get count(): number {
    return this.errors.length;
  }

  throwIfAny(): void {
    if (this.errors.length === 1) throw this.errors[0]!;
    if (this.errors.length > 1) throw new BerthErrors(this.errors);
  }
}
