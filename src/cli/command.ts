import type { ParseArgsConfig } from 'node:util';
import { loadProject } from '../config/project.js';
import type { Project } from '../config/model.js';
import { connectEngine, type Engine } from '../engine/client.js';
import { closeStore, openStore, type Store } from '../store/db.js';
import type { Output } from './output.js';

export type Flags = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  positionals: string[];
  flags: Flags;
  output: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where a command reads input (`berth secret set`'s value); process.stdin when absent. */
  stdin?: AsyncIterable<Buffer | string> & { isTTY?: boolean };
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(context: CommandContext): Promise<number>;
}

/** Options every command takes. */
export const commonOptions = {
  project: { type: 'string', short: 'p' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  server: { type: 'string' },
} as const;

export interface Workspace {
  project: Project;
  engine: Engine;
  db: Store;
  close(): Promise<void>;
}

/** The project, the engine and the store, opened in that order so bad input fails before anything connects. */
export async function openWorkspace(context: CommandContext): Promise<Workspace> {
  const project = loadProject(context.flags.project as string | undefined, context.env, context.cwd);
  const engine = connectEngine(context.env);
  const db = await openStore(project.stateDir);
  return { project, engine, db, close: () => closeStore(db) };
}

export async function withWorkspace<T>(context: CommandContext, use: (workspace: Workspace) => Promise<T>): Promise<T> {
  const workspace = await openWorkspace(context);
  try {
    return await use(workspace);
  } finally {
    await workspace.close();
  }
}
