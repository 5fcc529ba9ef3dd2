/**
 * The restore side against the real restic 0.14: repositories restic writes (v1, v2 with
 * compression auto/off/max) from a source tree with odd names (invalid UTF-8, quotes,
 * backslashes, HTML characters), a 3 MiB file, an empty file and directory, symlinks (one
 * dangling), a hard-link pair, a fifo, a character device (as root), setuid/setgid/sticky modes,
 * another owner (as root) and nanosecond mtimes. For each: `ls` (text, --long, --json),
 * `find`, `stats` and `dump` print what restic prints, and `restore` gives the same tree as
 * `restic restore` (content, modes, owners, symlink targets, times to the ns, hard links).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend/open.js';
import { Repository } from '../../src/repository/repository.js';
import { restoreTree, type RestoreProgress } from '../../src/restorer/restore.js';
import { walkTree } from '../../src/restorer/walker.js';
import { ours } from '../support/cli.js';
import { passwordFile, restic, tempDir, TEST_PASSWORD } from '../support/restic.js';
import { describeTree, expectSameTree, type EntryInfo } from '../support/tree-snapshot.js';

process.env.TZ = 'UTC';

const isRoot = process.geteuid?.() === 0;
const tmp = tempDir('restic-ts-restore-');
afterAll(() => tmp.cleanup());
const pwFile = passwordFile(tmp.path);

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The source tree every repository is made from. */
function makeSource(root: string): void {
  const src = join(root, 'src');
  mkdirSync(join(src, 'dir', 'empty-dir'), { recursive: true });
  mkdirSync(join(src, 'dir', 'deeper', 'deepest'), { recursive: true });
  writeFileSync(join(src, 'dir', 'a.txt'), 'alpha\n');
  writeFileSync(join(src, 'dir', 'deeper', 'deepest', 'b.txt'), 'beta'.repeat(5000));
  writeFileSync(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(src, 'text.txt'), 'compressible '.repeat(100_000));
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(Buffer.concat([B(src + '/bad'), Buffer.from([0xff, 0xfe]), B('name')]), 'non-utf8 name\n');
  writeFileSync(join(src, 'we<ir>d&"name\\.txt'), 'odd\n');
  writeFileSync(join(src, 'ünïcödé €'), 'unicode\n');
  writeFileSync(join(src, 'tab\tand\nnewline'), 'ctl\n');
  writeFileSync(join(src, 'bs\bff\fsoh\x01'), 'go 1.19 escapes\n');
  symlinkSync('dir/a.txt', join(src, 'link'));
  symlinkSync('does/not/exist', join(src, 'dangling'));
  writeFileSync(join(src, 'hard1'), 'linked content\n');
  linkSync(join(src, 'hard1'), join(src, 'dir', 'hard2'));
  writeFileSync(join(src, 'empty-hard1'), '');
  linkSync(join(src, 'empty-hard1'), join(src, 'empty-hard2'));
  expect(spawnSync('mkfifo', [join(src, 'fifo')]).status).toBe(0);
  writeFileSync(join(src, 'suid'), '#!/bin/sh\n');
  chmodSync(join(src, 'suid'), 0o4755);
  mkdirSync(join(src, 'sgid-dir'));
  chmodSync(join(src, 'sgid-dir'), 0o2750);
  mkdirSync(join(src, 'sticky'));
  chmodSync(join(src, 'sticky'), 0o1777);
  writeFileSync(join(src, 'readonly'), 'ro\n');
  chmodSync(join(src, 'readonly'), 0o400);
  if (isRoot) {
    expect(spawnSync('mknod', [join(src, 'chardev'), 'c', '1', '3']).status).toBe(0);
    expect(spawnSync('mknod', [join(src, 'blockdev'), 'b', '7', '200']).status).toBe(0);
    writeFileSync(join(src, 'owned'), 'other owner\n');
    chownSync(join(src, 'owned'), 1234, 5678);
  }
  // nanosecond times, set last (after every change inside the directories)
  for (const [p, t] of [
    ['dir/a.txt', '2020-01-02 03:04:05.123456789'],
    ['big.bin', '2019-05-06 07:08:09.000000001'],
    ['empty', '2001-02-03 04:05:06.999999999'],
    ['dir/deeper', '2018-01-01 00:00:00.5'],
    ['dir', '2017-06-07 08:09:10.111111111'],
  ]) {
    expect(spawnSync('touch', ['-h', '-d', t, join(src, p)]).status).toBe(0);
  }
  expect(spawnSync('touch', ['-h', '-d', '2016-01-01 12:00:00.424242424', join(src, 'link')]).status).toBe(0);
}

interface Fixture {
  name: string;
  repo: string;
  src: string;
}

const fixtures: Fixture[] = [];

function makeRepo(name: string, version: 1 | 2, compression: string): Fixture {
  const repo = join(tmp.path, `repo-${name}`);
  restic(['init', '--repository-version', String(version)], { repo });
  const src = join(tmp.path, 'src');
  // relative target: the snapshot's root tree holds `src`
  restic(['backup', '--compression', compression, 'src'], { repo, cwd: tmp.path, env: version === 1 ? {} : {} });
  return { name, repo, src };
}

beforeAll(async () => {
  makeSource(tmp.path);
  // a unix socket exists while its server listens: restic records it, restore skips it
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(tmp.path, 'src', 'socket'), resolve));
  try {
    fixtures.push(makeRepo('v1', 1, 'auto'));
    fixtures.push(makeRepo('v2-auto', 2, 'auto'));
    fixtures.push(makeRepo('v2-off', 2, 'off'));
    fixtures.push(makeRepo('v2-max', 2, 'max'));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

for (const name of ['v1', 'v2-auto', 'v2-off', 'v2-max']) {
  describe(`restore side on restic's ${name} repository`, () => {
    const f = (): Fixture => fixtures.find((x) => x.name === name)!;
    const args = (...rest: string[]): string[] => ['-r', f().repo, '--password-file', pwFile, ...rest];
    const theirs = (...rest: string[]) => restic(['--no-lock', ...rest], { repo: f().repo, password: TEST_PASSWORD });

    it('ls --json, ls and ls --long equal restic line for line', async () => {
      for (const extra of [['--json'], [], ['--long'], ['--json', 'latest', '/src/dir'], ['--recursive', 'latest', '/src/dir']]) {
        const withSnapshot = extra.includes('latest') ? extra : [...extra, 'latest'];
        const r = await ours(args('ls', ...withSnapshot));
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const t = theirs('ls', ...withSnapshot);
        expect(r.stdoutBytes.toString('latin1').split('\n')).toEqual(t.stdoutBytes.toString('latin1').split('\n'));
      }
    });

    it('restore gives the same tree as restic restore (content, modes, owners, links, times to the ns)', async () => {
      const mine = join(tmp.path, `ours-${name}`);
      const them = join(tmp.path, `theirs-${name}`);
      const r = await ours(args('restore', 'latest', '--target', mine, '--verify'));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^restoring <Snapshot [0-9a-f]{8} of \[.*\/src\] at .* by .*@.*> to /);
      expect(r.stdout).toMatch(/finished verifying \d+ files in /);
      theirs('restore', 'latest', '--target', them);
      expectSameTree(mine, them);
      // the library with blob decoding in worker threads gives the same tree
      const lib = join(tmp.path, `ours-lib-${name}`);
      const repo = await Repository.open({ backend: await openBackend(f().repo), password: TEST_PASSWORD });
      const events: RestoreProgress[] = [];
      const summary = await restoreTree(repo, { tree: (await repo.findSnapshot('latest')).tree, target: lib, workers: 2, verify: true, onProgress: (e) => events.push(e) });
      await repo.close();
      expect(summary.errors).toEqual([]);
      expect(summary.verified).toBeGreaterThan(10);
      // progress: phases in order, byte and file counts reach their totals
      const phases = [...new Set(events.map((e) => e.phase))];
      expect(phases).toEqual(['content', 'metadata', 'verify', 'done']);
      const last = events[events.length - 1];
      expect(last.bytesRestored).toBe(last.bytesTotal);
      expect(last.bytesTotal).toBeGreaterThan(3 * 1024 * 1024);
      expect(last.filesVerified).toBe(summary.verified);
      expect(summary.bytes).toBe(last.bytesTotal);
      // (atimes of `them` moved when they were read above: compared without them)
      const noAtime = (m: Map<string, EntryInfo>) => new Map([...m].map(([k, v]) => [k, { ...v, atimeNs: undefined }]));
      expect(noAtime(describeTree(lib))).toEqual(noAtime(describeTree(them)));
      // and both equal the source where restic keeps it (not the source's own atimes/root)
      const source = describeTree(join(tmp.path, 'src'));
      const restored = describeTree(join(mine, 'src'));
      for (const [k, v] of source) {
        const got = restored.get(k);
        expect(got, Buffer.from(k, 'hex').toString()).toBeDefined();
        expect({ ...got, atimeNs: undefined }).toEqual({ ...v, atimeNs: undefined });
      }
    });

    it('restore of a subtree and with include/exclude patterns equals restic', async () => {
      for (const [i, extra] of [
        ['--include', '/src/dir'],
        ['--include', '*.txt'],
        ['--exclude', 'big.bin'],
        ['--exclude', '/src/dir/deeper'],
        ['--iinclude', '*.TXT'],
        ['--iexclude', '/SRC/DIR'],
      ].entries()) {
        const mine = join(tmp.path, `ours-${name}-f${i}`);
        const them = join(tmp.path, `theirs-${name}-f${i}`);
        const r = await ours(args('restore', 'latest', '--target', mine, ...extra));
        expect(r.code, r.stderr).toBe(0);
        theirs('restore', 'latest', '--target', them, ...extra);
        expectSameTree(mine, them);
      }
      // ID:subpath (a later restic's syntax) restores the subtree's contents
      const sub = join(tmp.path, `ours-${name}-sub`);
      const r = await ours(args('restore', 'latest:src/dir', '--target', sub));
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(sub, 'a.txt'), 'utf8')).toBe('alpha\n');
      expect(existsSync(join(sub, 'deeper', 'deepest', 'b.txt'))).toBe(true);
    });

    it('dump of a file gives restic bytes; dump of a directory the same tar as restic', async () => {
      const full = name === 'v1' || name === 'v2-auto';
      for (const path of full ? ['/src/big.bin', '/src/dir/a.txt', '/src/empty', '/src/text.txt'] : ['/src/big.bin', '/src/text.txt']) {
        const r = await ours(args('dump', 'latest', path));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdoutBytes.equals(theirs('dump', 'latest', path).stdoutBytes), path).toBe(true);
      }
      for (const path of full ? ['/src', '/', '/src/dir'] : ['/']) {
        const r = await ours(args('dump', 'latest', path));
        expect(r.code, r.stderr).toBe(0);
        const t = theirs('dump', 'latest', path).stdoutBytes;
        expect(r.stdoutBytes.length).toBe(t.length);
        expect(r.stdoutBytes.equals(t), path).toBe(true);
      }
    });

    it('stats (all modes, text and --json) and find equal restic', async () => {
      // the whole matrix on two repositories, the JSON of two modes on the others (time)
      const full = name === 'v1' || name === 'v2-auto';
      for (const mode of full ? ['restore-size', 'raw-data', 'files-by-contents', 'blobs-per-file'] : ['restore-size', 'raw-data']) {
        for (const json of full ? [[], ['--json']] : [['--json']]) {
          const r = await ours(args('stats', ...json, '--mode', mode));
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toBe(theirs('stats', ...json, '--mode', mode).stdout);
        }
      }
      for (const pattern of full ? [['*.txt'], ['--json', 'hard*', 'dir'], ['-i', 'BAD*'], ['--json', '/src/dir/**'], ['--long', 'link'], ['--json', 'bs*']] : [['--json', '*.txt']]) {
        const r = await ours(args('find', ...pattern));
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(theirs('find', ...pattern).stdout);
      }
    });
  });
}

describe('restore: bad input', () => {
  const f = (): Fixture => fixtures.find((x) => x.name === 'v2-auto')!;
  const args = (...rest: string[]): string[] => ['-r', f().repo, '--password-file', pwFile, ...rest];

  it('a path that is not in the snapshot is SNAPSHOT_NOT_FOUND naming the path, and nothing is written', async () => {
    const target = join(tmp.path, 'never-created');
    const r = await ours(args('--json', 'restore', 'latest:src/nope', '--target', target));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('"error_code":"SNAPSHOT_NOT_FOUND"');
    expect(r.stderr).toContain('/src/nope');
    expect(existsSync(target)).toBe(false);
    const d = await ours(args('--json', 'dump', 'latest', '/src/missing.txt'));
    expect(d.code).not.toBe(0);
    expect(d.stderr).toContain('"error_code":"SNAPSHOT_NOT_FOUND"');
    expect(d.stderr).toContain('/src/missing.txt');
    const l = await ours(args('--json', 'ls', 'latest:/src/none'));
    expect(l.stderr).toContain('"error_code":"SNAPSHOT_NOT_FOUND"');
  });

  it('a corrupted pack fails the restore with MAC_FAILED naming the pack; the damaged file is not left behind', async () => {
    // a private copy of the repository with one data blob of big.bin damaged
    const repoDir = join(tmp.path, 'corrupt-repo');
    expect(spawnSync('cp', ['-a', f().repo, repoDir]).status).toBe(0);
    const repo = await Repository.open({ backend: await openBackend(repoDir), password: TEST_PASSWORD });
    await repo.loadIndex();
    const found = await repo.findSnapshot('latest');
    let blobId = '';
    for await (const e of walkTree(repo, found.tree)) {
      if (Buffer.from(e.path).toString() === '/src/big.bin') blobId = e.node.content![0];
    }
    const loc = repo.index.lookup('data', blobId)[0];
    const packFile = join(repoDir, 'data', loc.packId.slice(0, 2), loc.packId);
    chmodSync(packFile, 0o600);
    const bytes = readFileSync(packFile);
    bytes[loc.offset + 40] ^= 0xff;
    writeFileSync(packFile, bytes);
    await repo.close();

    const target = join(tmp.path, 'corrupt-target');
    const r = await ours(['-r', repoDir, '--password-file', pwFile, '--json', 'restore', 'latest', '--target', target]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('"error_code":"MAC_FAILED"');
    expect(r.stderr).toContain(`data/${loc.packId.slice(0, 2)}/${loc.packId}`);
    expect(r.stderr).toContain('/src/big.bin');
    expect(existsSync(join(target, 'src', 'big.bin'))).toBe(false);
    // the rest was restored
    expect(readFileSync(join(target, 'src', 'dir', 'a.txt'), 'utf8')).toBe('alpha\n');

    // the library reports the same as a typed failure list
    const repo2 = await Repository.open({ backend: await openBackend(repoDir), password: TEST_PASSWORD });
    const tree = (await repo2.findSnapshot('latest')).tree;
    for (const workers of [0, 2]) {
      const summary = await restoreTree(repo2, { tree, target: join(tmp.path, `corrupt-target-w${workers}`), workers });
      expect(summary.errors).toHaveLength(1);
      expect(summary.errors[0]).toMatchObject({ path: '/src/big.bin', code: 'MAC_FAILED' });
      expect(summary.errors[0].message).toContain(loc.packId);
    }
    await repo2.close();
  });

  it('include and exclude together are a usage error before anything is opened', async () => {
    const r = await ours(args('--json', 'restore', 'latest', '--target', join(tmp.path, 'x'), '--include', 'a', '--exclude', 'b'));
    expect(r.stderr).toContain('"error_code":"USAGE"');
    expect(existsSync(join(tmp.path, 'x'))).toBe(false);
  });
});

describe('ls of a snapshot with several paths', () => {
  it('prints the paths in their stored order (unlike snapshots --json) and the same nodes as restic', async () => {
    const repo = join(tmp.path, 'repo-multi');
    restic(['init'], { repo });
    restic(['backup', join(tmp.path, 'src', 'dir', 'empty-dir'), join(tmp.path, 'src', 'dir', 'deeper')], { repo });
    for (const extra of [['--json'], []]) {
      const r = await ours(['-r', repo, '--password-file', pwFile, 'ls', ...extra, 'latest']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(restic(['--no-lock', 'ls', ...extra, 'latest'], { repo }).stdout);
    }
  });
});
