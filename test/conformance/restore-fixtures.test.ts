/**
 * restic's own repository fixtures (2015–2021 formats): for each healthy one, `restore latest`
 * by restic-ts gives the same tree as `restic restore` (content, modes, owners, symlink
 * targets, times to the ns, hard links), and `ls --json latest` prints what restic prints.
 *
 * The fixtures live in ../shared/restic-testdata (present in CI); the test fails rather than
 * skips when CI is set and they are missing.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { expectFixturesInCi, extractFixtureCheap, FIXTURE_PASSWORD, runFixtureTests } from '../support/fixtures.js';
import { passwordFile, restic, tempDir } from '../support/restic.js';

process.env.TZ = 'UTC';

/** Fixtures restic 0.14 restores without errors (the others are damaged on purpose). */
const REPOS = [
  'small-repo',
  'repo-layout-default',
  'repo-same-timestamps',
  'repo-restore-permissions-test',
  'repo-mixed',
  'repo-obsolete-index',
  'repo-unreferenced-data',
  'repo-unused-data-missing',
  'repo-duplicates',
  'repo-index-missing',
  'copy-unstable-json',
];

const tmp = tempDir('restic-ts-restore-fixtures-');
afterAll(() => tmp.cleanup());
const pw = passwordFile(tmp.path, FIXTURE_PASSWORD);

interface EntryInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  mtimeNs: bigint;
  atimeNs?: bigint;
  link?: string;
  sha256?: string;
  linkGroup?: string;
}

/** Every entry below `root`, all lstat'ed before any file is read (reading moves atimes). */
function describeTree(root: string): Map<string, EntryInfo> {
  const out = new Map<string, EntryInfo>();
  const inodes = new Map<bigint, string>();
  const files: [Buffer, EntryInfo][] = [];
  const walk = (dir: Buffer, rel: string): void => {
    for (const name of (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = `${rel}/${name.toString('utf8')}`;
      const st = lstatSync(p, { bigint: true });
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isFIFO() ? 'fifo' : 'other';
      const info: EntryInfo = { type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: type === 'dir' ? 0n : st.size, mtimeNs: st.mtimeNs };
      if (type !== 'dir') info.atimeNs = st.atimeNs;
      if (type === 'symlink') info.link = (readlinkSync(p, { encoding: 'buffer' }) as Buffer).toString('hex');
      if (type === 'file') {
        if (st.nlink > 1n) {
          info.linkGroup = inodes.get(st.ino) ?? r;
          inodes.set(st.ino, info.linkGroup);
        }
        files.push([p, info]);
      }
      out.set(r, info);
      if (type === 'dir') walk(p, r);
    }
  };
  walk(Buffer.from(root), '');
  for (const [p, info] of files) {
    const fd = openSync(p, 'r');
    const h = createHash('sha256');
    const buf = Buffer.alloc(1 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
    closeSync(fd);
    info.sha256 = h.digest('hex');
  }
  return out;
}

describe('restore of restic test fixtures', () => {
  it('are present (required in CI)', () => {
    expectFixturesInCi();
  });

  for (const name of REPOS) {
    it.runIf(runFixtureTests)(`${name}: restore latest and ls --json equal restic`, async () => {
      const repo = await extractFixtureCheap(name, tmp.path);
      const theirs = (...args: string[]) => restic(['--no-lock', ...args], { repo, password: FIXTURE_PASSWORD });
      const args = (...rest: string[]) => ['--no-lock', '-r', repo, '--password-file', pw, ...rest];

      const ls = await ours(args('ls', '--json', 'latest'));
      expect(ls.stderr).toBe('');
      expect(ls.stdout.split('\n')).toEqual(theirs('ls', '--json', 'latest').stdout.split('\n'));

      const mine = join(tmp.path, `${name}-ours`);
      const them = join(tmp.path, `${name}-theirs`);
      const r = await ours(args('restore', 'latest', '--target', mine));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      theirs('restore', 'latest', '--target', them);
      expect(describeTree(mine)).toEqual(describeTree(them));
    });
  }
});
