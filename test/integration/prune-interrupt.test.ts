/**
 * Killing prune at any point leaves a repository restic accepts, and a second prune finishes
 * the job. The CLI is spawned as a real process and kills itself with SIGKILL right after a
 * chosen step (the test-only RESTIC_TS_TEST_PRUNE_KILL_AT hook in the prune command), at each
 * durable step of the apply phase: after a new pack, after the repack's index, after each new
 * index file, after the first old index file is deleted, after the first old pack is deleted.
 *
 * After the kill: `restic check --read-data` passes (stale lock of the dead process removed
 * first with `restic unlock`, as a user would), our second prune completes, restic check
 * passes again, and restic finds nothing more to prune.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeResticRepo, passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';

process.env.TZ = 'UTC';

const projectRoot = resolve(import.meta.dirname, '..', '..');
const tsxLoader = join(projectRoot, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const cliBin = join(projectRoot, 'src', 'cli', 'bin.ts');

const tmp = tempDir('restic-ts-prune-kill-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const base = join(tmp.path, 'base');
const src = join(tmp.path, 'src');

function spawnOurs(repo: string, args: string[], env: Record<string, string> = {}): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsxLoader, cliBin, '-r', repo, '--password-file', pw, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', TZ: 'UTC', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  mkdirSync(src, { recursive: true });
  await makeResticRepo(base);
  const times = ['2024-01-01 10:00:00', '2024-01-02 10:00:00', '2024-01-03 10:00:00', '2024-01-04 10:00:00', '2024-01-05 10:00:00'];
  times.forEach((time, i) => {
    const data = Buffer.alloc(60_000 + i * 1000);
    for (let j = 0; j < data.length; j++) data[j] = (j * 31 + i * 7 + ((j * j) >> 5)) & 0xff;
    writeFileSync(join(src, `f${i}.bin`), data);
    writeFileSync(join(src, 'log.txt'), `run ${i}\n`.repeat(3000));
    if (i >= 2) rmSync(join(src, `f${i - 2}.bin`));
    restic(['backup', '-q', '--time', time, src], { repo: base });
  });
  // Leave unused data behind: the plan then deletes packs and repacks partly used ones.
  restic(['forget', '-q', '--keep-last', '2'], { repo: base });
}, 180_000);

const KILL_POINTS = ['new-pack-written', 'repacked', 'index-file-written', 'index-written', 'old-index-file-deleted', 'pack-deleted:2'];

describe('prune killed with SIGKILL', () => {
  it('the setup leaves something to repack and to delete', () => {
    const plan = restic(['prune', '--dry-run'], { repo: base }).stdout;
    expect(plan).not.toContain('to repack:             0 blobs');
    expect(plan).not.toContain('total prune:           0 blobs');
  });

  for (const point of KILL_POINTS) {
    it(`after ${point}: restic accepts the repository and a second prune finishes`, () => {
      const repo = join(tmp.path, `repo-${point.replace(':', '-')}`);
      cpSync(base, repo, { recursive: true });
      const killed = spawnOurs(repo, ['prune'], { RESTIC_TS_TEST_PRUNE_KILL_AT: point });
      expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');

      restic(['unlock'], { repo }); // the dead process's lock is stale
      const check1 = restic(['check', '--read-data'], { repo, check: false });
      expect(check1.code, check1.stdout + check1.stderr).toBe(0);

      const second = spawnOurs(repo, ['unlock']);
      expect(second.status).toBe(0);
      const finish = spawnOurs(repo, ['prune']);
      expect(finish.status, finish.stdout + finish.stderr).toBe(0);
      const check2 = restic(['check', '--read-data'], { repo, check: false });
      expect(check2.code, check2.stdout + check2.stderr).toBe(0);
      const after = restic(['prune', '--dry-run'], { repo, env: { RESTIC_PASSWORD: TEST_PASSWORD } }).stdout;
      expect(after).toContain('total prune:           0 blobs / 0 B');
      expect(after).toContain('to repack:             0 blobs / 0 B');
      // the latest snapshot still restores byte-identical
      const target = join(tmp.path, `restore-${point.replace(':', '-')}`);
      restic(['restore', '-q', 'latest', '--target', target], { repo });
      const diff = spawnSync('diff', ['-r', src, join(target, src)], { encoding: 'utf8' });
      expect(diff.status, diff.stdout).toBe(0);
    });
  }
});
