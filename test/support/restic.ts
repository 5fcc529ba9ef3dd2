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
  });
  if (r.error) throw r.error;
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
