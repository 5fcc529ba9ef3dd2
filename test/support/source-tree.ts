/**
 * Source data for backup tests: deterministic pseudo-random file contents, and a repository
 * made by the real restic with a few backups of one source directory (the prelude most
 * cross-tests share).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeResticRepo, restic, type MakeResticRepoOptions } from './restic.js';

/** xorshift32 bytes from a non-zero 32-bit `state` (the raw generator; tests that need these exact bytes call it). */
export function xorshiftBytes(length: number, state: number): Buffer {
  const out = Buffer.alloc(length);
  let x = state >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Deterministic pseudo-random bytes (xorshift32 from `seed`): incompressible enough to make
 * real packs, and the same for the same seed in every run, so sizes and pack counts are stable.
 */
export function seededBytes(seed: number, length: number): Buffer {
  return xorshiftBytes(length, (seed * 2654435761) >>> 0);
}

/**
 * Writes `files` (slash-separated paths relative to `root` → contents) below `root`, making
 * the folders they need, and returns `root`. Existing files are overwritten.
 */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): string {
  mkdirSync(root, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, ...rel.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

export interface ResticBackupStep {
  /** Runs just before this backup (e.g. to change the source). */
  before?: () => void | Promise<void>;
  /** More `restic backup` arguments (`--time`, `--host`, `--tag`, …). */
  args?: string[];
}

export interface RepoWithBackupsOptions extends MakeResticRepoOptions {
  /** Working directory for `restic backup` (snapshot paths are made absolute by restic anyway). */
  cwd?: string;
}

/**
 * `makeResticRepo(repo)` (restic init, cheap key), then one `restic backup -q <args> <src>` per
 * step, in order. Returns the id of the repository's key.
 */
export async function repoWithBackups(
  repo: string,
  src: string,
  steps: ResticBackupStep[],
  options: RepoWithBackupsOptions = {},
): Promise<{ keyId: string }> {
  const made = await makeResticRepo(repo, options);
  for (const step of steps) {
    await step.before?.();
    restic(['backup', '-q', ...(step.args ?? []), src], { repo, password: options.password, env: options.env, cwd: options.cwd });
  }
  return made;
}

/** Compressible, deterministic text of `n` bytes (restic-ish words and numbers; zstd ~3x). */
export function compressibleText(n: number, seed = 12345): Uint8Array {
  const words = ['restic', 'backup', 'snapshot', 'tree', 'blob', 'pack', 'index', '{"name":', '"mode":420,', '\n'];
  const parts: string[] = [];
  let x = seed;
  let len = 0;
  while (len < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = words[x % words.length]! + (x % 97);
    parts.push(w);
    len += w.length;
  }
  return new TextEncoder().encode(parts.join(' ')).subarray(0, n);
}
