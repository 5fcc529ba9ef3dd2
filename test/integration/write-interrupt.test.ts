/**
 * Crash safety and locking against the real restic: a backup killed with SIGKILL mid-way leaves
 * a repository restic accepts and the next backup completes; a lock restic holds exclusively
 * stops our backup with LOCKED (exit 11).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { restic, tempDir, TEST_PASSWORD } from '../support/restic.js';

const projectRoot = path.resolve(import.meta.dirname, '..', '..');
const env = { RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  return n;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function spawnOurs(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/cli/bin.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('interrupted backups and locks', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeAll(() => {
    dir = tempDir('rts-interrupt-');
  });
  afterAll(() => dir.cleanup());

  it('SIGKILL mid-backup leaves a repository restic checks; the next backup completes', async () => {
    const repo = path.join(dir.path, 'repo');
    const src = path.join(dir.path, 'src');
    mkdirSync(src);
    for (let i = 0; i < 20; i++) writeFileSync(path.join(src, `f${i}`), randomBytes(2 * 1024 * 1024));
    expect((await ours(['-r', repo, 'init'], env)).code).toBe(0);

    const child = spawnOurs(['-r', repo, '--pack-size', '4', 'backup', src]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => countFiles(path.join(repo, 'data')) >= 1 || child.exitCode !== null, 60_000, 'the first pack');
    expect(child.exitCode, 'the backup finished before it could be killed: give it more data').toBeNull();
    child.kill('SIGKILL');
    await exited;
    expect(countFiles(path.join(repo, 'snapshots'))).toBe(0);

    // our stale lock (same host, dead PID) blocks restic's exclusive check until unlocked
    const unlocked = await ours(['-r', repo, 'unlock'], env);
    expect(unlocked.code).toBe(0);
    expect(countFiles(path.join(repo, 'locks'))).toBe(0);
    restic(['check'], { repo });

    const again = await ours(['-r', repo, 'backup', src], env);
    expect(again.code, again.stderr).toBe(0);
    restic(['check', '--read-data'], { repo });
    const snaps = JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as unknown[];
    expect(snaps).toHaveLength(1);
  });

  it('refuses to back up while restic holds an exclusive lock', async () => {
    const repo = path.join(dir.path, 'repo-locked');
    const src = path.join(dir.path, 'small');
    mkdirSync(src);
    writeFileSync(path.join(src, 'a'), 'a');
    restic(['init'], { repo });
    // `key passwd` takes an exclusive lock, then waits for the new password on stdin.
    const holder = spawn('restic', ['-r', repo, 'key', 'passwd'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_PASSWORD: TEST_PASSWORD, RESTIC_CACHE_DIR: path.join(dir.path, 'cache') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const done = new Promise<void>((resolve) => holder.on('exit', () => resolve()));
    try {
      await waitFor(() => countFiles(path.join(repo, 'locks')) >= 1, 20_000, "restic's lock");
      const r = await ours(['-r', repo, 'backup', src], env);
      expect(r.code).toBe(11);
      expect(r.stderr).toMatch(/repository is already locked exclusively by PID \d+/);
      expect(countFiles(path.join(repo, 'snapshots'))).toBe(0);
    } finally {
      holder.stdin!.end();
      await done;
    }
    // with the lock gone the backup runs
    const ok = await ours(['-r', repo, 'backup', src], env);
    expect(ok.code, ok.stderr).toBe(0);
    restic(['check', '--read-data'], { repo });
  });
});
