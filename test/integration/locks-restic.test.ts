/**
 * Two clients at once, restic 0.14 and restic-ts, on one repository:
 * - restic holds an exclusive lock (a `check --read-data` throttled with --limit-download):
 *   restic-ts backup, check, prune, tag and key passwd all fail with the locked error (exit 11)
 *   and change nothing;
 * - restic holds a shared lock (`backup --stdin` with stdin still open): restic-ts check, prune,
 *   tag (exclusive) fail with exit 11; restic-ts backup (shared) succeeds alongside;
 * - restic-ts holds a shared lock (our `backup --stdin` running in another process): restic
 *   prune and check fail with restic's "repository is already locked" message;
 * - restic-ts holds an exclusive lock (taken with the same lock code the CLI uses): restic
 *   backup fails, and succeeds once the lock is released.
 * Afterwards restic check --read-data passes: nothing was damaged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { acquireLock, lockStoreFor } from '../../src/repository/lock.js';
import { Repository } from '../../src/repository/repository.js';
import { ours } from '../support/cli.js';
import { repoWithBackups, seededBytes } from '../support/source-tree.js';
import { passwordFile, restic, TEST_PASSWORD, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const projectRoot = resolve(import.meta.dirname, '..', '..');
const tmp = tempDir('restic-ts-locks-restic-');
const pw = passwordFile(tmp.path);
const repo = join(tmp.path, 'repo');
const src = join(tmp.path, 'src');
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGINT');
      await exited(c);
    }
  }
});
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  mkdirSync(src);
  writeFileSync(join(src, 'big.bin'), seededBytes(3, 3_000_000));
  await repoWithBackups(repo, src, [{}]);
});

function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((res) => c.once('exit', (code) => res(code)));
}

function startRestic(args: string[]): ChildProcess {
  const c = spawn('restic', args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC', RESTIC_CACHE_DIR: join(tmp.path, 'cache') },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(c);
  return c;
}

function startOurs(args: string[]): ChildProcess {
  const c = spawn(join(projectRoot, 'node_modules', '.bin', 'tsx'), [join(projectRoot, 'src', 'cli', 'bin.ts'), '-r', repo, '--password-file', pw, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TZ: 'UTC' },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(c);
  return c;
}

async function waitForLocks(count = 1): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (readdirSync(join(repo, 'locks')).length >= count) {
      // let the holder finish its 200 ms re-check
      await new Promise((r) => setTimeout(r, 500));
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no lock appeared');
}

/** sha256 of every file except locks: "nothing changed". */
function contents(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (relative(repo, p) !== 'locks') walk(p);
      } else out.set(relative(repo, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(repo);
  return out;
}

function expectHealthy(): void {
  expect(readdirSync(join(repo, 'locks'))).toEqual([]);
  const check = restic(['check', '--read-data'], { repo, check: false });
  expect(check.code, check.stderr).toBe(0);
}

describe('restic and restic-ts on one repository at the same time', () => {
  it('restic holds an exclusive lock: every restic-ts command that locks fails with exit 11, nothing changes', async () => {
    const holder = startRestic(['check', '--read-data', '--limit-download', '1']);
    await waitForLocks();
    const before = contents();
    const newPw = join(tmp.path, 'newpw');
    writeFileSync(newPw, 'new password\n');
    for (const args of [['backup', '-q', src], ['check'], ['prune'], ['tag', '--add', 'x'], ['key', 'passwd', '--new-password-file', newPw], ['snapshots']]) {
      const r = await ours(['-r', repo, '--password-file', pw, ...args]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(11);
      expect(r.stderr).toContain('repository is already locked exclusively by PID');
    }
    expect(contents()).toEqual(before);
    holder.kill('SIGINT');
    await exited(holder);
    expectHealthy();
  });

  it('restic holds a shared lock: restic-ts check/prune/tag fail with exit 11; restic-ts backup runs alongside', async () => {
    const holder = startRestic(['backup', '--stdin', '--stdin-filename', 'streamed.txt']);
    holder.stdin?.write('first part\n');
    await waitForLocks();
    for (const args of [['check'], ['prune'], ['tag', '--add', 'x']]) {
      const r = await ours(['-r', repo, '--password-file', pw, ...args]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(11);
      expect(r.stderr).toContain('repository is already locked by PID');
    }
    const backup = await ours(['-r', repo, '--password-file', pw, 'backup', '-q', src]);
    expect(backup.code, backup.stderr).toBe(0);
    holder.stdin?.end('last part\n');
    expect(await exited(holder)).toBe(0);
    expectHealthy();
    expect(JSON.parse(restic(['snapshots', '--json'], { repo }).stdout)).toHaveLength(3);
  });

  it('restic-ts holds a shared lock (backup --stdin in another process): restic prune and check fail with the lock error', async () => {
    const holder = startOurs(['backup', '--stdin', '--stdin-filename', 'ours.txt']);
    holder.stdin?.write('streaming\n');
    await waitForLocks();
    const before = contents();
    for (const args of [['prune'], ['check']]) {
      const r = restic(args, { repo, check: false });
      expect(r.code, args[0]).not.toBe(0);
      expect(r.stderr).toContain('repository is already locked by PID');
    }
    expect(contents()).toEqual(before);
    holder.stdin?.end('done\n');
    expect(await exited(holder)).toBe(0);
    expectHealthy();
  });

  it('restic-ts holds an exclusive lock: restic backup fails until it is released', async () => {
    const r = await Repository.open({ backend: new LocalBackend(repo, repo), password: TEST_PASSWORD });
    const lock = await acquireLock(lockStoreFor(r), { exclusive: true });
    const refused = restic(['backup', '-q', src], { repo, check: false });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('repository is already locked exclusively by PID');
    await lock.release();
    expect(restic(['backup', '-q', src], { repo, check: false }).code).toBe(0);
    expectHealthy();
    expect(existsSync(join(repo, 'locks'))).toBe(true);
  });
});
