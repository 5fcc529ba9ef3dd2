/**
 * restic-ts backs up, the real restic 0.14 checks (`check --read-data`) and restores; restic and
 * restic-ts deduplicate against each other and write identical tree blobs for the same files.
 */
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ours } from '../support/cli.js';
import { blobIds, latestSnapshot, restic, subtreeOf, tempDir, TEST_PASSWORD } from '../support/restic.js';

const env = { RESTIC_PASSWORD: TEST_PASSWORD, TZ: 'UTC' };

function random(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A source tree with the awkward cases: sizes, empties, links, modes, odd names, a fifo. */
function makeSource(root: string): void {
  mkdirSync(root);
  writeFileSync(path.join(root, 'small.txt'), 'hello restic\n');
  writeFileSync(path.join(root, 'empty'), '');
  mkdirSync(path.join(root, 'empty-dir'));
  writeFileSync(path.join(root, 'big.bin'), random(3 * 1024 * 1024 + 12345, 7)); // several chunks
  writeFileSync(path.join(root, 'text.log'), Buffer.from('compressible line of text\n'.repeat(40000)));
  mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true });
  writeFileSync(path.join(root, 'sub', 'deeper', 'x'), random(70000, 3));
  linkSync(path.join(root, 'sub', 'deeper', 'x'), path.join(root, 'sub', 'hardlink-to-x'));
  symlinkSync('sub/deeper/x', path.join(root, 'link'));
  symlinkSync('/does/not/exist', path.join(root, 'dangling'));
  writeFileSync(path.join(root, 'exec.sh'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'exec.sh'), 0o755);
  writeFileSync(path.join(root, 'private'), 'secret');
  chmodSync(path.join(root, 'private'), 0o600);
  for (const odd of ['sp ace', 'ünïcödé €', 'quote"and\\back', 'new\nline', 'tab\tname', 'html<&>']) {
    writeFileSync(path.join(root, odd), odd);
  }
  writeFileSync(Buffer.concat([Buffer.from(root + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('-utf8')]), 'non utf8 name');
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  utimesSync(path.join(root, 'small.txt'), new Date('2001-02-03T04:05:06.789Z'), new Date('2001-02-03T04:05:06.789Z'));
}

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs?: bigint;
  hash?: string;
  target?: string;
  ino: bigint;
}

/** Everything restore must reproduce, keyed by relative path (raw bytes as latin1). */
function snapshotOf(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: Buffer, rel: string) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = rel + '/' + name.toString('latin1');
      const st = lstatSync(p, { bigint: true });
      const e: Entry = { type: '', mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: 0, ino: st.ino };
      if (st.isDirectory()) {
        e.type = 'dir';
        e.mtimeNs = st.mtimeNs;
        walk(p, r);
      } else if (st.isFile()) {
        e.type = 'file';
        e.size = Number(st.size);
        e.mtimeNs = st.mtimeNs;
        e.hash = createHash('sha256').update(readFileSync(p)).digest('hex');
      } else if (st.isSymbolicLink()) {
        e.type = 'symlink';
        e.target = readlinkSync(p, { encoding: 'buffer' }).toString('latin1');
      } else if (st.isFIFO()) {
        e.type = 'fifo';
        e.mtimeNs = st.mtimeNs;
      }
      out.set(r, e);
    }
  };
  walk(Buffer.from(root), '');
  return out;
}

function expectSameTree(a: Map<string, Entry>, b: Map<string, Entry>): void {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [k, ea] of a) {
    const eb = b.get(k)!;
    const { ino: _ia, ...ra } = ea;
    const { ino: _ib, ...rb } = eb;
    expect({ path: k, ...rb }).toEqual({ path: k, ...ra });
  }
  // hard links stay hard links
  expect(b.get('/sub/hardlink-to-x')!.ino).toBe(b.get('/sub/deeper/x')!.ino);
}



async function oursOk(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const r = await ours(args, { ...env, ...extraEnv });
  if (r.code !== 0) throw new Error(`restic-ts ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

describe('backup cross-tests with restic 0.14', () => {
  let dir: ReturnType<typeof tempDir>;
  let src: string;
  let source: Map<string, Entry>;

  beforeAll(() => {
    dir = tempDir('rts-backup-');
    src = path.join(dir.path, 'src');
    makeSource(src);
    source = snapshotOf(src);
  });
  afterAll(() => dir.cleanup());

  for (const [version, compression] of [
    ['1', 'auto'],
    ['2', 'auto'],
    ['2', 'off'],
    ['2', 'max'],
  ] as const) {
    it(`v${version} --compression ${compression}: check --read-data passes, restore reproduces the tree`, async () => {
      const repo = path.join(dir.path, `repo-v${version}-${compression}`);
      await oursOk(['-r', repo, 'init', '--repository-version', version]);
      const out = await oursOk(['-r', repo, '--compression', compression, 'backup', src]);
      expect(out).toMatch(/snapshot [0-9a-f]{8} saved/);
      restic(['check', '--read-data'], { repo });
      const target = path.join(dir.path, `restore-v${version}-${compression}`);
      restic(['restore', 'latest', '--target', target], { repo });
      expectSameTree(source, snapshotOf(path.join(target, src)));
      // a second backup reuses everything through the parent
      const second = JSON.parse((await oursOk(['-r', repo, '--json', 'backup', src])).trim().split('\n').pop()!);
      expect(second).toMatchObject({ message_type: 'summary', files_unmodified: source.size - [...source.values()].filter((e) => e.type !== 'file').length, files_new: 0, data_blobs: 0 });
      restic(['check'], { repo });
    });
  }

  it('restic then restic-ts into one repository: no new data blobs, identical trees', async () => {
    const repo = path.join(dir.path, 'repo-restic-first');
    restic(['init'], { repo });
    restic(['backup', src], { repo });
    const before = blobIds(repo, 'data');
    const theirs = latestSnapshot(repo);
    await oursOk(['-r', repo, 'backup', src]);
    expect(blobIds(repo, 'data')).toEqual(before);
    const mine = latestSnapshot(repo);
    expect(mine.id).not.toBe(theirs.id);
    expect(subtreeOf(repo, mine.tree, src)).toBe(subtreeOf(repo, theirs.tree, src));
    restic(['check', '--read-data'], { repo });
  });

  it('restic-ts then restic into one repository: no new data blobs, identical trees', async () => {
    const repo = path.join(dir.path, 'repo-ours-first');
    await oursOk(['-r', repo, 'init']);
    await oursOk(['-r', repo, 'backup', src]);
    const before = blobIds(repo, 'data');
    const mine = latestSnapshot(repo);
    restic(['backup', '--force', src], { repo });
    expect(blobIds(repo, 'data')).toEqual(before);
    const theirs = latestSnapshot(repo);
    expect(subtreeOf(repo, theirs.tree, src)).toBe(subtreeOf(repo, mine.tree, src));
    restic(['check', '--read-data'], { repo });
  });

  it('device nodes give the same tree as restic; sockets are left out as restic does', async () => {
    const devDir = path.join(dir.path, 'devices');
    mkdirSync(devDir);
    execFileSync('mknod', [path.join(devDir, 'null'), 'c', '1', '3']);
    execFileSync('mknod', [path.join(devDir, 'loop'), 'b', '7', '200']);
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path.join(devDir, 'sock'))})`]);
    writeFileSync(path.join(devDir, 'plain'), 'x');
    const repo = path.join(dir.path, 'repo-devices');
    restic(['init'], { repo });
    restic(['backup', devDir], { repo });
    const theirs = latestSnapshot(repo);
    await oursOk(['-r', repo, 'backup', '--force', devDir]);
    const mine = latestSnapshot(repo);
    expect(mine.id).not.toBe(theirs.id);
    const tree = subtreeOf(repo, mine.tree, devDir);
    expect(tree).toBe(subtreeOf(repo, theirs.tree, devDir));
    const names = (JSON.parse(restic(['cat', 'blob', tree], { repo }).stdout).nodes as { name: string; type: string }[]).map((n) => `${n.name}:${n.type}`);
    expect(names).toEqual(['loop:dev', 'null:chardev', 'plain:file']);
  });

  it('--json summary counts equal restic 0.14 for the same tree (first and unchanged backup)', async () => {
    const theirsRepo = path.join(dir.path, 'repo-json-theirs');
    const mineRepo = path.join(dir.path, 'repo-json-mine');
    restic(['init'], { repo: theirsRepo });
    // same chunker polynomial, or the number of chunks (data_blobs) differs by chance
    await oursOk(['-r', mineRepo, 'init', '--copy-chunker-params', '--from-repo', theirsRepo], { RESTIC_FROM_PASSWORD: TEST_PASSWORD });
    const last = (out: string) => {
      const o = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
      delete o.total_duration;
      delete o.snapshot_id;
      delete o.data_added; // tree sizes depend on the mtimes of /tmp and friends at that moment
      return o;
    };
    for (let run = 0; run < 2; run++) {
      const theirs = last(restic(['--json', 'backup', src], { repo: theirsRepo }).stdout);
      const mine = last(await oursOk(['-r', mineRepo, '--json', 'backup', src]));
      // dirs above src (/tmp …) may change between the two runs; compare files and blobs exactly
      expect({ ...mine, dirs_changed: 0, dirs_unmodified: 0, tree_blobs: 0 }).toEqual({ ...theirs, dirs_changed: 0, dirs_unmodified: 0, tree_blobs: 0 });
      expect((mine.dirs_changed as number) + (mine.dirs_unmodified as number)).toBe((theirs.dirs_changed as number) + (theirs.dirs_unmodified as number));
    }
  });

  it('an unreadable file is reported and skipped, exit code 3, and the snapshot is valid', async () => {
    const repo = path.join(dir.path, 'repo-unreadable');
    await oursOk(['-r', repo, 'init']);
    // Reading another process's /proc/<pid>/mem at offset 0 fails (EIO or EACCES): a file that cannot be read.
    const sleeper = spawn('sleep', ['30']);
    try {
      const unreadable = `/proc/${sleeper.pid}/mem`;
      const r = await ours(['-r', repo, '--json', 'backup', src, unreadable], env);
      expect(r.code).toBe(3);
      const err = JSON.parse(r.stderr.split('\n').find((l) => l.includes('"message_type":"error"'))!);
      expect(err).toMatchObject({ message_type: 'error', item: unreadable, during: 'archival' });
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(summary.snapshot_id).toMatch(/^[0-9a-f]{8}$/);
    } finally {
      sleeper.kill();
    }
    restic(['check', '--read-data'], { repo });
  });

  it('backs up stdin like restic --stdin', async () => {
    const repo = path.join(dir.path, 'repo-stdin');
    await oursOk(['-r', repo, 'init']);
    const { backupStream } = await import('../../src/archiver/archiver.js');
    const { Repository } = await import('../../src/repository/repository.js');
    const { LocalBackend } = await import('../../src/backend/local.js');
    const r = await Repository.open({ backend: new LocalBackend(repo), password: TEST_PASSWORD });
    await r.loadIndex();
    const data = random(2 * 1024 * 1024, 11);
    const res = await backupStream(data, { repository: r, filename: 'dump.sql' });
    expect(res.snapshot.paths).toEqual(['/dump.sql']);
    restic(['check', '--read-data'], { repo });
    const dumped = restic(['dump', 'latest', '/dump.sql'], { repo }).stdoutBytes;
    expect(Buffer.compare(dumped, data)).toBe(0);
  });
});
