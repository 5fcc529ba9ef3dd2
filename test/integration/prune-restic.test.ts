/**
 * The user's routine on repositories the real restic 0.14 wrote (version 1 and 2): backups
 * with synthetic times whose data changes between runs, then
 * `restic-ts forget --prune -H 5 -d 2 -w 2 -m 2`. Afterwards:
 * - restic's plan on an identical copy has the same statistics as ours;
 * - `restic check --read-data` passes;
 * - every remaining snapshot restores (with `restic restore`) byte-identical to the source
 *   as it was when that snapshot was taken;
 * - a second prune (ours and restic's) finds nothing left to do.
 * Plus `--repack-uncompressed` on a v2 repository written with `--compression off`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { seededBytes } from '../support/source-tree.js';
import { makeResticRepo, passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-prune-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);

const TIMES = [
  '2024-01-01 10:00:00',
  '2024-01-01 10:30:00',
  '2024-01-02 09:00:00',
  '2024-01-08 09:00:00',
  '2024-01-09 09:00:00',
  '2024-02-01 09:00:00',
  '2024-03-01 09:00:00',
  '2024-03-01 12:00:00',
  '2024-03-02 12:00:00',
  '2024-03-02 12:40:00',
];

interface Built {
  repo: string;
  /** snapshot time → directory holding the source as it was backed up */
  states: Map<string, string>;
  src: string;
}

/** Backups at TIMES; each run changes some files, adds one and deletes one. */
async function buildRepo(name: string, version: 1 | 2, backupArgs: string[] = []): Promise<Built> {
  const base = join(tmp.path, name);
  const repo = join(base, 'repo');
  const src = join(base, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  await makeResticRepo(repo, { version });
  const states = new Map<string, string>();
  TIMES.forEach((time, i) => {
    writeFileSync(join(src, `new-${i}.bin`), seededBytes(1000 + i, 40_000 + i * 997));
    writeFileSync(join(src, 'sub', 'changing.txt'), `version ${i}\n`.repeat(2000 + i));
    writeFileSync(join(src, 'stable.bin'), seededBytes(7, 150_000));
    if (i >= 2) rmSync(join(src, `new-${i - 2}.bin`));
    restic(['backup', '-q', '--time', time, '--host', 'host1', ...backupArgs, src], { repo });
    const state = join(base, 'states', String(i));
    cpSync(src, state, { recursive: true });
    states.set(time, state);
  });
  return { repo, states, src };
}

function statsLines(text: string): string[] {
  const lines = text.split('\n').filter((l) => !/^\[\d+:\d+\]/.test(l));
  const start = lines.findIndex((l) => l.startsWith('to repack:'));
  const end = lines.findIndex((l) => l.startsWith('unused size after prune'));
  return lines.slice(start, end + 1);
}

function verifyRestores(b: Built): number {
  const snaps = JSON.parse(restic(['snapshots', '--json'], { repo: b.repo }).stdout) as { id: string; time: string }[];
  for (const sn of snaps) {
    const key = sn.time.slice(0, 19).replace('T', ' ');
    const state = b.states.get(key);
    expect(state, `state for ${key}`).toBeDefined();
    const target = join(tmp.path, 'restore', sn.id);
    restic(['restore', '-q', sn.id, '--target', target], { repo: b.repo });
    const diff = spawnSync('diff', ['-r', state as string, join(target, b.src)], { encoding: 'utf8' });
    expect(diff.status, diff.stdout + diff.stderr).toBe(0);
    rmSync(target, { recursive: true, force: true });
  }
  return snaps.length;
}

describe.each([1, 2] as const)('forget --prune on a restic-made v%i repository', (version) => {
  it('decides like restic, restic check --read-data passes, every snapshot restores byte-identical', async () => {
    const b = await buildRepo(`v${version}`, version);
    // restic's decision and plan on an identical copy
    const copy = join(tmp.path, `v${version}-copy`);
    cpSync(b.repo, copy, { recursive: true });
    const theirs = restic(['forget', '--prune', '-H', '5', '-d', '2', '-w', '2', '-m', '2'], { repo: copy });

    const mine = await ours(['-r', b.repo, '--password-file', pw, 'forget', '--prune', '-H', '5', '-d', '2', '-w', '2', '-m', '2'], { TZ: 'UTC' });
    expect(mine.code, mine.stderr).toBe(0);
    expect(statsLines(mine.stdout)).toEqual(statsLines(theirs.stdout));
    expect(statsLines(mine.stdout).length).toBe(6);
    expect(mine.stdout).toMatch(/snapshots have been removed, running prune/);
    expect(mine.stdout).toContain('repacking packs');

    const check = restic(['check', '--read-data'], { repo: b.repo, check: false });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    // the same snapshots remain as with restic, and some were removed
    const ids = (r: string): string[] => (JSON.parse(restic(['snapshots', '--json'], { repo: r }).stdout) as { id: string }[]).map((s) => s.id).sort();
    expect(ids(b.repo)).toEqual(ids(copy));
    expect(ids(b.repo).length).toBeLessThan(TIMES.length);
    expect(verifyRestores(b)).toBe(ids(copy).length);
    // nothing left to prune, by our count and by restic's
    const again = await ours(['-r', b.repo, '--password-file', pw, 'prune', '--dry-run']);
    expect(again.stdout).toContain('total prune:           0 blobs / 0 B');
    expect(restic(['prune', '--dry-run'], { repo: b.repo }).stdout).toContain('total prune:           0 blobs / 0 B');
    expect(readdirSync(join(b.repo, 'locks'))).toEqual([]);
  });
});

describe('prune --repack-uncompressed', () => {
  it('compresses a v2 repository written with --compression off; restic check --read-data passes', async () => {
    const b = await buildRepo('uncompressed', 2, ['--compression', 'off']);
    const copy = join(tmp.path, 'uncompressed-copy');
    cpSync(b.repo, copy, { recursive: true });
    const theirs = restic(['prune', '--repack-uncompressed', '--dry-run'], { repo: copy });
    const mine = await ours(['-r', b.repo, '--password-file', pw, 'prune', '--repack-uncompressed']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(statsLines(mine.stdout)).toEqual(statsLines(theirs.stdout));
    const check = restic(['check', '--read-data'], { repo: b.repo, check: false });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    verifyRestores(b);
    // everything is compressed now: restic wants to repack nothing more
    expect(restic(['prune', '--repack-uncompressed', '--dry-run'], { repo: b.repo }).stdout).toContain('to repack:             0 blobs / 0 B');
    // and a v1 repository refuses the flag
    const v1 = join(tmp.path, 'v1-refuse');
    await makeResticRepo(v1, { version: 1 });
    const refused = await ours(['-r', v1, '--password-file', pw, 'prune', '--repack-uncompressed']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('compression requires at least repository format version 2');
  });
});
