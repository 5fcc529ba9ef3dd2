/**
 * Runs the real `restic` binary (Debian's package) for cross-tests.
 *
 * restic is required, never optional: when it is missing the test fails with the install
 * hint, so a CI run can never turn green by skipping the compatibility checks.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../../src/backend/open.js';
import { sha256, type ScryptParams } from '../../src/crypto/index.js';
import { createKeyFile, encodeKeyFile, openKeyFile, parseKeyFile } from '../../src/format/key-file.js';

export const TEST_PASSWORD = 'test-password';

export interface ResticRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as raw bytes (for `cat blob`, `dump`). */
  stdoutBytes: Buffer;
}

export interface ResticOptions {
  repo?: string;
  password?: string;
  env?: Record<string, string>;
  cwd?: string;
  input?: string | Uint8Array;
  /** Throw when restic exits non-zero (default true). */
  check?: boolean;
  /**
   * Kill restic after this long (default 5 minutes). spawnSync blocks the worker, so vitest's
   * own test timeout cannot fire while restic hangs; without this a stuck restic would hold
   * the CI job until its 90-minute limit.
   */
  timeoutMs?: number;
}

let checkedVersion: string | undefined;

/** Fails (never skips) when the binary is missing. Returns `restic version` output. */
export function requireRestic(): string {
  if (checkedVersion) return checkedVersion;
  const r = spawnSync('restic', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('the real restic binary is required for this test: run `apt-get install -y restic` (or `bash .ci/run`)');
  }
  checkedVersion = r.stdout.trim();
  return checkedVersion;
}

export function restic(args: string[], options: ResticOptions = {}): ResticRun {
  requireRestic();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    TZ: process.env.TZ ?? 'UTC',
    RESTIC_CACHE_DIR: process.env.RESTIC_TS_TEST_CACHE ?? join(tmpdir(), 'restic-ts-test-cache'),
    ...options.env,
  };
  if (options.repo !== undefined) env.RESTIC_REPOSITORY = options.repo;
  if (options.password !== undefined || !('RESTIC_PASSWORD' in env)) env.RESTIC_PASSWORD = options.password ?? TEST_PASSWORD;
  const r: SpawnSyncReturns<Buffer> = spawnSync('restic', args, {
    env,
    cwd: options.cwd,
    input: options.input,
    maxBuffer: 1 << 30,
    timeout: options.timeoutMs ?? 300_000,
    killSignal: 'SIGKILL',
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') throw new Error(`restic ${args.join(' ')} did not finish within ${(options.timeoutMs ?? 300_000) / 1000} s and was killed`, { cause: r.error });
    throw r.error;
  }
  const run: ResticRun = {
    code: r.status ?? -1,
    stdout: r.stdout.toString('utf8'),
    stderr: r.stderr.toString('utf8'),
    stdoutBytes: r.stdout,
  };
  if ((options.check ?? true) && run.code !== 0) {
    throw new Error(`restic ${args.join(' ')} exited ${run.code}:\n${run.stderr}`);
  }
  return run;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'restic-ts-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes a password file and returns its path. */
export function passwordFile(dir: string, password = TEST_PASSWORD): string {
  const p = join(dir, 'password.txt');
  writeFileSync(p, password + '\n');
  return p;
}

/**
 * scrypt parameters of the key `makeResticRepo` leaves in a repository: about a millisecond
 * per derivation instead of restic's calibrated ~0.5 s (more on a loaded machine). restic
 * accepts whatever parameters a key file names, so every later restic and restic-ts run on
 * the repository opens it almost for free.
 */
export const CHEAP_KDF_PARAMS: ScryptParams = { N: 1024, r: 8, p: 1 };

export interface MakeResticRepoOptions {
  /** `--repository-version` (restic 0.14's default, 2, when omitted). */
  version?: 1 | 2;
  password?: string;
  /** Environment for restic and for our backend (AWS_* for an S3 repository). */
  env?: Record<string, string>;
  /** More `restic init` arguments (e.g. `--copy-chunker-params`, `--repo2`). */
  initArgs?: string[];
  /**
   * Keep restic's calibrated key (default false). Only for tests about the calibrated key
   * itself; everything else should leave the cheap key in place.
   */
  keepCalibratedKey?: boolean;
}

/**
 * Creates a repository with the real `restic init` (so config and key are restic's own),
 * then swaps the calibrated key for one with CHEAP_KDF_PARAMS (see `cheapenKeys`).
 * Works for local paths and `s3:` repositories. Returns the id of the key left in place.
 */
export async function makeResticRepo(repo: string, options: MakeResticRepoOptions = {}): Promise<{ keyId: string }> {
  const password = options.password ?? TEST_PASSWORD;
  const args = ['init', '-q'];
  if (options.version !== undefined) args.push('--repository-version', String(options.version));
  args.push(...(options.initArgs ?? []));
  restic(args, { repo, password, env: options.env });
  if (options.keepCalibratedKey) {
    const ids = await listKeyIds(repo, options.env);
    return { keyId: ids[0] };
  }
  const replaced = await cheapenKeys(repo, [password], { env: options.env });
  if (replaced.length !== 1) throw new Error(`makeResticRepo: restic init left ${replaced.length} keys to replace in ${repo}, want 1`);
  return { keyId: replaced[0].newId };
}

async function listKeyIds(repo: string, env?: Record<string, string>): Promise<string[]> {
  const backend = await openBackend(repo, { env: { ...process.env, ...env } });
  try {
    const ids: string[] = [];
    for await (const info of backend.list('key')) ids.push(info.name);
    return ids;
  } finally {
    await backend.close();
  }
}

/**
 * Replaces every key file of `repo` that one of `passwords` opens and that is not already
 * cheap by a key with CHEAP_KDF_PARAMS, the same password and master key, and the same
 * created/username/hostname fields; the old file is deleted. Call it after `restic key add`
 * or `restic key passwd` too: restic tries every key in turn, so one calibrated key left
 * behind costs each later run ~0.5 s. Returns the ids replaced (old → new).
 */
export async function cheapenKeys(
  repo: string,
  passwords: string[],
  options: { env?: Record<string, string> } = {},
): Promise<{ oldId: string; newId: string }[]> {
  const backend = await openBackend(repo, { env: { ...process.env, ...options.env } });
  const replaced: { oldId: string; newId: string }[] = [];
  try {
    const ids: string[] = [];
    for await (const info of backend.list('key')) ids.push(info.name);
    for (const oldId of ids) {
      const what = `keys/${oldId}`;
      const old = parseKeyFile(await backend.read('key', oldId), what);
      if (old.N === CHEAP_KDF_PARAMS.N && old.r === CHEAP_KDF_PARAMS.r && old.p === CHEAP_KDF_PARAMS.p) continue;
      for (const password of passwords) {
        const master = await openKeyFile(old, password, what);
        if (!master) continue;
        const fresh = await createKeyFile(master, password, { params: CHEAP_KDF_PARAMS, username: old.username, hostname: old.hostname });
        const bytes = encodeKeyFile({ ...fresh.keyFile, created: old.created });
        const newId = Buffer.from(sha256(bytes)).toString('hex');
        await backend.write('key', newId, bytes);
        await backend.remove('key', oldId);
        replaced.push({ oldId, newId });
        break;
      }
    }
    return replaced;
  } finally {
    await backend.close();
  }
}

/** The newest snapshot of `repo`, as restic lists it. */
export function latestSnapshot(repo: string): { id: string; tree: string } {
  const list = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as { id: string; tree: string; time: string }[];
  list.sort((x, y) => (x.time < y.time ? -1 : 1));
  return list[list.length - 1];
}

/** Tree ID of the directory at absolute path `abs` inside snapshot tree `root` (read by restic). */
export function subtreeOf(repo: string, root: string, abs: string): string {
  let tree = root;
  for (const comp of abs.split('/').filter((c) => c)) {
    const nodes = JSON.parse(restic(['cat', 'blob', tree], { repo }).stdout).nodes as { name: string; subtree?: string }[];
    const node = nodes.find((n) => n.name === comp);
    if (!node?.subtree) throw new Error(`no directory ${comp} in tree ${tree}`);
    tree = node.subtree;
  }
  return tree;
}

/** IDs of the blobs of one type that restic lists in `repo` (`restic list blobs`). */
export function blobIds(repo: string, type: 'data' | 'tree', options: Omit<ResticOptions, 'repo'> = {}): Set<string> {
  const out = new Set<string>();
  for (const line of restic(['list', 'blobs'], { ...options, repo }).stdout.split('\n')) {
    const [t, id] = line.split(' ');
    if (t === type) out.add(id);
  }
  return out;
}

/** `restic backup --json` of `paths` into `repo`; its summary message. */
export function resticBackupSummary(repo: string, paths: string[], extraArgs: string[] = []): { data_blobs: number; tree_blobs: number; snapshot_id: string } & Record<string, unknown> {
  const lines = restic(['backup', '--json', ...extraArgs, ...paths], { repo }).stdout.trim().split('\n');
  const summary = lines.map((l) => JSON.parse(l) as { message_type: string }).find((m) => m.message_type === 'summary');
  if (!summary) throw new Error(`restic backup printed no summary:\n${lines.join('\n')}`);
  return summary as never;
}
