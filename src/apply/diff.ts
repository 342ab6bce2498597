/** What an apply changes (pure): files added, removed and changed, with a unified diff of each changed text file. */
import { createTwoFilesPatch } from 'diff';
import type { Bundle } from './bundle.js';

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** A unified diff for text files up to 256 KiB; absent for binary or large ones. */
  patch?: string;
}

export interface ConfigDiff {
  changes: FileChange[];
  unchanged: boolean;
}

const TEXT_LIMIT = 256 * 1024;
const isText = (content: Buffer) => content.length <= TEXT_LIMIT && !content.includes(0);

export function diffBundles(beforeFiles: Bundle, afterFiles: Bundle): ConfigDiff {
  const before = new Map([...beforeFiles].map(([p, f]) => [p, f.content]));
  const after = new Map([...afterFiles].map(([p, f]) => [p, f.content]));
  const modeChanged = (path: string) => beforeFiles.get(path)?.executable !== afterFiles.get(path)?.executable;
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changes: FileChange[] = [];
  for (const path of paths) {
    const old = before.get(path);
    const now = after.get(path);
    if (old && now && old.equals(now) && !modeChanged(path)) continue;
    const change = !old ? 'added' : !now ? 'removed' : 'changed';
    const texts = (old === undefined || isText(old)) && (now === undefined || isText(now));
    const patch = texts ? createTwoFilesPatch(`a/${path}`, `b/${path}`, old?.toString('utf8') ?? '', now?.toString('utf8') ?? '', undefined, undefined, { context: 2 }) : undefined;
    changes.push({ path, change, ...(patch !== undefined ? { patch } : {}) });
  }
  return { changes, unchanged: changes.length === 0 };
}
