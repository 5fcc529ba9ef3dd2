/**
 * copy into a destination with another chunker polynomial (plain `restic init`), against
 * restic 0.14: our copy rechunks file contents with the destination's polynomial, so
 * - restic check --read-data passes on the destination and restic restores it byte-identical;
 * - a later restic backup of the same tree into the destination adds no data blobs;
 * - a second copy of ours finds the snapshot already copied;
 * - `original` is set to the source snapshot's ID, as restic's own copy does.
 */
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { seededBytes, writeTree } from '../support/source-tree.js';
import { blobIds, makeResticRepo, passwordFile, restic, resticBackupSummary, tempDir } from '../support/restic.js';

const tmp = tempDir('restic-ts-copy-rechunk-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const src = join(tmp.path, 'src');
const repoA = join(tmp.path, 'a');

interface Sn {
  id: string;
  tree: string;
  original?: string;
  parent?: string;
  time: string;
}
const snapshots = (repo: string): Sn[] => JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as Sn[];
const config = (repo: string): { chunker_polynomial: string } => JSON.parse(restic(['cat', 'config'], { repo }).stdout) as { chunker_polynomial: string };

beforeAll(async () => {
  writeTree(src, {
    'big.bin': seededBytes(1, 2_600_000),
    'mid.bin': seededBytes(2, 1_400_000),
    'dup.bin': seededBytes(2, 1_400_000),
    'empty': '',
    'd/small.txt': 'hello\n'.repeat(100),
    'd/e/other.bin': seededBytes(3, 300_000),
  });
  symlinkSync('d/small.txt', join(src, 'link'));
  await makeResticRepo(repoA);
  restic(['backup', '-q', src], { repo: repoA });
});

describe('copy between repositories with different chunker polynomials', () => {
  it('rechunks: restic checks and restores the copy, and a restic backup of the same tree adds no data blobs', async () => {
    const repoB = join(tmp.path, 'b');
    await makeResticRepo(repoB);
    expect(config(repoB).chunker_polynomial).not.toBe(config(repoA).chunker_polynomial);

    const r = await ours(['-r', repoB, '--password-file', pw, 'copy', '--from-repo', repoA, '--from-password-file', pw]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    // big, mid (dup shares its content), small, other; not the empty file
    expect(r.stdout).toContain('rechunked 4 files');

    const check = restic(['check', '--read-data'], { repo: repoB, check: false });
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const [srcSn] = snapshots(repoA);
    const [dstSn] = snapshots(repoB);
    expect(dstSn.original).toBe(srcSn.id);
    expect(dstSn.parent).toBeUndefined();
    expect(dstSn.time).toBe(srcSn.time);
    expect(dstSn.tree).not.toBe(srcSn.tree);

    const target = join(tmp.path, 'restore-b');
    restic(['restore', '-q', 'latest', '--target', target], { repo: repoB });
    const diff = spawnSync('diff', ['-r', '--no-dereference', join(target, src), src], { encoding: 'utf8' });
    expect(diff.status, diff.stdout + diff.stderr).toBe(0);

    const blobsBefore = blobIds(repoB, 'data').size;
    expect(resticBackupSummary(repoB, [src]).data_blobs).toBe(0);
    expect(blobIds(repoB, 'data').size).toBe(blobsBefore);

    // again: the rechunked copy is recognised as done
    const again = await ours(['-r', repoB, '--password-file', pw, 'copy', '--from-repo', repoA, '--from-password-file', pw]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('skipping source snapshot');
    expect(snapshots(repoB)).toHaveLength(2);
  });

  it("restic's own copy sets original to the source snapshot's ID, as ours does", async () => {
    const repoC = join(tmp.path, 'c');
    await makeResticRepo(repoC);
    restic(['copy', '-q', '--from-repo', repoA, '--from-password-file', pw], { repo: repoC });
    const [srcSn] = snapshots(repoA);
    const [theirs] = snapshots(repoC);
    expect(theirs.original).toBe(srcSn.id);
    expect(theirs.tree).toBe(srcSn.tree);
  });
});
