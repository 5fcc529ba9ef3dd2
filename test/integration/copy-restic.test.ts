/**
 * copy against restic 0.14:
 * - into a destination with another chunker polynomial (plain `restic init`): restic check
 *   --read-data passes on the destination, every copied snapshot restores (with restic)
 *   byte-identical to the source's, `original` is set and `parent` dropped; contents are
 *   rechunked, so tree IDs change (more in copy-rechunk.test.ts);
 * - a second copy of ours finds everything already copied (restic's own copy would not: it
 *   compares tree IDs, and rechunking changed them);
 * - into a destination made with `init --copy-chunker-params`: a later restic backup of the
 *   same data adds no data blobs (the copied blobs deduplicate);
 * - v1 source into a v2 destination (blobs get compressed there).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { seededBytes } from '../support/source-tree.js';
import { makeResticRepo, passwordFile, restic, resticBackupSummary, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

const tmp = tempDir('restic-ts-copy-restic-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path);
const src = join(tmp.path, 'src');

interface Sn {
  id: string;
  time: string;
  tree: string;
  parent?: string;
  original?: string;
  paths: string[];
}
const snapshots = (repo: string): Sn[] => (JSON.parse(restic(['snapshots', '--json'], { repo }).stdout) as Sn[]).sort((a, b) => (a.time < b.time ? -1 : 1));

const sources: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(join(src, 'd'), { recursive: true });
  for (const version of [1, 2] as const) {
    const repo = join(tmp.path, `src-v${version}`);
    await makeResticRepo(repo, { version });
    sources[`v${version}`] = repo;
  }
  for (let i = 0; i < 2; i++) {
    // Several chunks under either polynomial (min 512 KiB, ~1 MiB average): a file of one chunk
    // would be the same blob in both repositories, and the rechunked tree would keep its ID.
    writeFileSync(join(src, 'big.bin'), seededBytes(10 + i, 6_000_000));
    writeFileSync(join(src, 'd', `f${i}.txt`), `file ${i}\n`.repeat(1000));
    for (const repo of Object.values(sources)) restic(['backup', '-q', '--time', `2024-01-0${i + 1} 10:00:00`, src], { repo });
  }
});

function restoreEqual(dst: string, sn: Sn, srcRepo: string, srcSn: Sn): void {
  const a = join(tmp.path, 'restore', sn.id);
  const b = join(tmp.path, 'restore', `${srcSn.id}-src`);
  restic(['restore', '-q', sn.id, '--target', a], { repo: dst });
  restic(['restore', '-q', srcSn.id, '--target', b], { repo: srcRepo });
  const diff = spawnSync('diff', ['-r', a, b], { encoding: 'utf8' });
  expect(diff.status, diff.stdout + diff.stderr).toBe(0);
}

describe('copy with restic', () => {
  it.each(['v1', 'v2'])('%s source into a v2 destination with another polynomial (rechunked): restic checks and restores it, and our second copy sees it as done', async (name) => {
    const srcRepo = sources[name];
    const dst = join(tmp.path, `dst-${name}`);
    await makeResticRepo(dst);
    const r = await ours(['-r', dst, '--password-file', pw, 'copy', '--from-repo', srcRepo, '--from-password-file', pw]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/copy started, this may take a while/g)).toHaveLength(2);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/rechunked \d+ files/);
    const check = restic(['check', '--read-data'], { repo: dst, check: false });
    expect(check.code, check.stderr).toBe(0);
    const srcSns = snapshots(srcRepo);
    const dstSns = snapshots(dst);
    expect(dstSns).toHaveLength(2);
    dstSns.forEach((sn, i) => {
      expect(sn.tree).not.toBe(srcSns[i].tree);
      expect(sn.original).toBe(srcSns[i].id);
      expect(sn.parent).toBeUndefined();
      expect(sn.time).toBe(srcSns[i].time);
      restoreEqual(dst, sn, srcRepo, srcSns[i]);
    });
    // again: nothing to copy
    const again = await ours(['-r', dst, '--password-file', pw, 'copy', '--from-repo', srcRepo, '--from-password-file', pw]);
    expect(again.stdout.match(/skipping source snapshot/g)).toHaveLength(2);
    expect(snapshots(dst)).toHaveLength(2);
    expect(readdirSync(join(dst, 'locks'))).toEqual([]);
    expect(readdirSync(join(srcRepo, 'locks'))).toEqual([]);
  });

  it('into a destination with the same polynomial: the copied blobs deduplicate a later restic backup', async () => {
    const srcRepo = sources.v2;
    const dst = join(tmp.path, 'dst-same-poly');
    await makeResticRepo(dst, { initArgs: ['--copy-chunker-params', '--from-repo', srcRepo, '--from-password-file', pw] });
    const latest = snapshots(srcRepo)[1];
    const r = await ours(['-r', dst, '--password-file', pw, 'copy', '--from-repo', srcRepo, '--from-password-file', pw, latest.id.slice(0, 8)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(snapshots(dst)).toHaveLength(1);
    expect(resticBackupSummary(dst, [src]).data_blobs).toBe(0);
    expect(restic(['check', '--read-data'], { repo: dst, check: false }).code).toBe(0);
  });

  it('refuses without a source repository', async () => {
    const r = await ours(['-r', sources.v2, '--password-file', pw, 'copy']);
    expect(r.code).toBe(24);
    expect(r.stderr).toContain('--from-repo');
  });
});
