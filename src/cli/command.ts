/**
 * What a CLI command is: a descriptor with its flags and a `run(ctx)` that parses nothing
 * itself, calls the library and prints through `ctx.out`. Commands live one per file in
 * `src/cli/commands/` and are listed in `src/cli/commands/index.ts`.
 */
import type { Backend } from '../backend/backend.js';
import type { MasterIndex } from '../index/master-index.js';
import type { Repository } from '../repository/repository.js';
import type { FlagSpec, ParsedFlags } from './args.js';
import type { GlobalOptions } from './global-options.js';
import type { Output } from './output.js';

export type LockMode = 'none' | 'shared' | 'exclusive';

export interface OpenRepositoryOptions {
  /**
   * Lock to hold while the command runs (released by the framework afterwards). Ignored with
   * `--no-lock` (and with `--as-of`, whose view of the past never changes).
   */
  lock?: LockMode;
}

export interface CommandContext {
  /** The command's own flags (global flags are in `global`). */
  flags: ParsedFlags;
  /** Arguments after the command name, flags removed. */
  positionals: string[];
  global: GlobalOptions;
  out: Output;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** The backend named by -r / RESTIC_REPOSITORY (opened once, closed by the framework). */
  openBackend(): Promise<Backend>;
  /** Opens the repository with the password from the usual sources (closed by the framework). */
  openRepository(options?: OpenRepositoryOptions): Promise<Repository>;
  /** Reads a password from the usual sources (for `init`, `key add`'s new password …). */
  readPassword(prompt: string): Promise<string>;
  /** Runs after the command finishes (success or failure), in reverse order. */
  onCleanup(fn: () => Promise<void> | void): void;
}

export interface Command {
  /** `snapshots`, `cat`, … */
  name: string;
  /** One line for the command list in `--help`. */
  summary: string;
  /** Usage line after `restic-ts`, e.g. `snapshots [flags] [snapshotID ...]`. */
  usage: string;
  /** Flags of this command (global flags are always accepted too). */
  flags: FlagSpec[];
  /** Longer help text. */
  help?: string;
  /** Exit code, or nothing for 0. */
  run(ctx: CommandContext): Promise<number | void>;
}

/** A held repository lock. */
export interface HeldLock {
  release(): Promise<void>;
  /** Aborted (with a LOCKED error) when the lock could not be refreshed in time and is lost. */
  readonly lost?: AbortSignal;
}

/** Loads the index, showing "loading index n/m" on a terminal (nothing with --json/--quiet or when piped). */
export async function loadIndexWithProgress(ctx: CommandContext, repo: Repository): Promise<MasterIndex> {
  if (repo.indexLoaded) return repo.index;
  const line = ctx.out.progress();
  try {
    return await repo.loadIndex({
      onProgress: (p) => line.update(`loading index ${p.loadedFiles}/${p.totalFiles} files, ${p.blobs} blobs`, p.loadedFiles === p.totalFiles),
    });
  } finally {
    line.done();
  }
}
