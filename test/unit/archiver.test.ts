import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { backup, backupStream, backupTree } from '../../src/archiver/archiver.js';
import { ChunkAssembler, chunkBytes } from '../../src/archiver/chunk-reader.js';
import { ExcludeFilter, listMatches, parseExcludeFile, parsePattern, parseSize, patternMatches } from '../../src/archiver/excludes.js';
import { buildTargetTree, globPaths } from '../../src/archiver/targets.js';
import { chunkBuffer } from '../../src/chunker/chunker.js';
import { TEST_POLYNOMIAL } from '../../src/chunker/polynomial.js';
import { parseTree } from '../../src/format/node.js';
import { initRepository } from '../../src/repository/init.js';
import { Repository } from '../../src/repository/repository.js';
import { isResticError, ResticError } from '../../src/errors.js';

const m = (pattern: string, p: string) => patternMatches(parsePattern(pattern), p);

describe('exclude patterns (restic filter.Match semantics)', () => {
  it('matches globs per component, anywhere for relative patterns', () => {
    expect(m('*.go', '/home/user/src/main.go')).toBe(true);
    expect(m('*.go', '/home/user/src/main.c')).toBe(false);
    expect(m('src', '/home/user/src/main.go')).toBe(true); // a parent matches
    expect(m('user/src', '/home/user/src/x')).toBe(true);
    expect(m('/home/user', '/home/user/src')).toBe(true);
    expect(m('/user', '/home/user/src')).toBe(false); // anchored
    expect(m('/home/**/main.go', '/home/a/b/c/main.go')).toBe(true);
    expect(m('/home/**/main.go', '/home/main.go')).toBe(true);
    expect(m('foo?[0-9]', '/x/fooa7')).toBe(true);
    expect(m('foo[^0-9]', '/x/foo7')).toBe(false);
    expect(m('a\\*b', '/x/a*b')).toBe(true);
    expect(m('a\\*b', '/x/aXb')).toBe(false);
  });
  it('negation and case-insensitive lists', () => {
    const pats = ['*.log', '!keep.log'].map((p) => parsePattern(p));
    expect(listMatches(pats, '/var/x.log')).toBe(true);
    expect(listMatches(pats, '/var/keep.log')).toBe(false);
    expect(listMatches([parsePattern('*.JPG', true)], '/a/B.jpg', true)).toBe(true);
  });
  it('rejects malformed patterns and parses sizes and exclude files', () => {
    expect(() => parsePattern('[abc')).toThrow(/invalid exclude pattern/);
    expect(parseSize('10k')).toBe(10240);
    expect(parseSize('2M')).toBe(2 * 1024 * 1024);
    expect(parseSize('7')).toBe(7);
    expect(() => parseSize('1x')).toSatisfy((f: () => void) => {
      try {
        f();
      } catch (e) {
        return isResticError(e, 'USAGE');
      }
      return false;
    });
    expect(parseExcludeFile('# c\n\n *.tmp \n$HOME/x\n', { HOME: '/h' })).toEqual(['*.tmp', '/h/x']);
  });
});

describe('target tree (restic snapshot root shape)', () => {
  it('absolute paths nest their components; relative keep theirs', async () => {
    const t = await buildTargetTree(['/a/b/c', '/a/d', 'rel/x']);
    expect([...t.children.keys()].sort()).toEqual(['a', 'rel']);
    const a = t.children.get('a')!;
    expect(a.metaPath).toBe('/a');
    expect(a.children.get('b')!.metaPath).toBe('/a/b');
    expect(a.children.get('b')!.children.get('c')!.path).toBe('/a/b/c');
    expect(a.children.get('d')!.path).toBe('/a/d');
    expect(t.children.get('rel')!.children.get('x')!.path).toBe('rel/x');
  });
  it('same first name from different roots gets a suffix', async () => {
    const t = await buildTargetTree(['/tmp', 'tmp']);
    expect([...t.children.keys()].sort()).toEqual(['tmp', 'tmp-1']);
  });
});

describe('globPaths (--files-from)', () => {
  it('expands like filepath.Glob', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'rts-glob-'));
    try {
      for (const n of ['a.txt', 'b.txt', 'c.log']) writeFileSync(path.join(d, n), n);
      mkdirSync(path.join(d, 'sub1'));
      mkdirSync(path.join(d, 'sub2'));
      writeFileSync(path.join(d, 'sub2', 'x.txt'), 'x');
      expect(await globPaths(path.join(d, '*.txt'))).toEqual([path.join(d, 'a.txt'), path.join(d, 'b.txt')]);
      expect(await globPaths(path.join(d, 'sub?', '*.txt'))).toEqual([path.join(d, 'sub2', 'x.txt')]);
      expect(await globPaths(path.join(d, 'c.log'))).toEqual([path.join(d, 'c.log')]);
      expect(await globPaths(path.join(d, 'missing'))).toEqual([]);
      expect(await globPaths(path.join(d, '[ab].txt'))).toHaveLength(2);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('chunk assembler', () => {
  it('cuts where chunkBuffer cuts, however the input is split', () => {
    const data = new Uint8Array(5 * 1024 * 1024);
    let x = 12345;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    const want = chunkBuffer(data, TEST_POLYNOMIAL).map((c) => c.length);
    for (const piece of [1000, 65536, 3 * 1024 * 1024]) {
      const asm = new ChunkAssembler(TEST_POLYNOMIAL);
      const got: number[] = [];
      for (let off = 0; off < data.length; off += piece) for (const c of asm.push(data.subarray(off, off + piece))) got.push(c.length);
      const last = asm.finish();
      if (last) got.push(last.length);
      expect(got).toEqual(want);
    }
    expect([...chunkBytes(data, TEST_POLYNOMIAL)].map((c) => c.length)).toEqual(want);
  });
});

describe('archiver (in-memory repository)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rts-arch-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function memoryRepo(version = 2) {
    const backend = new MemoryBackend();
    await initRepository({ backend, password: 'pw', kdfParams: { N: 1024, r: 8, p: 1 }, version });
    // the archiver loads the index itself when the caller has not
    return Repository.open({ backend, password: 'pw' });
  }

  it('backs up a tree given as data', async () => {
    const repo = await memoryRepo();
    const res = await backupTree(
      {
        'a.txt': { type: 'file', content: 'hello' },
        dir: { type: 'dir', entries: { inner: { type: 'file', content: new Uint8Array(0) }, ln: { type: 'symlink', target: '../a.txt' } } },
      },
      { repository: repo, hostname: 'h', tags: ['t'] },
    );
    expect(res.snapshot.hostname).toBe('h');
    expect(res.snapshot.tags).toEqual(['t']);
    expect(res.summary).toMatchObject({ filesNew: 2, dirsNew: 1, dataBlobs: 1, treeBlobs: 2 });
    const fresh = await Repository.open({ backend: repo.backend, password: 'pw' });
    await fresh.loadIndex();
    const root = await fresh.loadTree(res.snapshot.tree);
    expect(root.nodes.map((n) => n.nameText)).toEqual(['a.txt', 'dir']);
    expect(Buffer.from(await fresh.loadBlob('data', root.nodes[0].content![0])).toString()).toBe('hello');
    const sub = await fresh.loadTree(root.nodes[1].subtree!);
    expect(sub.nodes.map((n) => [n.nameText, n.type, n.content?.length ?? null])).toEqual([
      ['inner', 'file', 0],
      ['ln', 'symlink', null],
    ]);
  });

  it("backing up a caller's buffer leaves it intact (worker threads on)", async () => {
    const repo = await memoryRepo();
    const data = new Uint8Array(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const copy = Uint8Array.from(data);
    await backupStream(data, { repository: repo, filename: 'buf', workers: 1 });
    expect(Buffer.compare(data, copy)).toBe(0);
    await backupTree({ f: { type: 'file', content: data } }, { repository: repo, workers: 1 });
    expect(Buffer.compare(data, copy)).toBe(0);
  });

  it('writes nothing before the write gate opens, and fails with its error when it rejects', async () => {
    async function repoFiles(repo: Repository): Promise<number> {
      let n = 0;
      for (const t of ['pack', 'index', 'snapshot'] as const) for await (const _ of repo.backend.list(t)) n++;
      return n;
    }
    // 40 MiB of varied data: several 16 MiB packs would be uploaded without the gate.
    const data = new Uint8Array(40 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data.set(new Uint8Array(new Float64Array([Math.random(), i]).buffer), i);
    const repo = await memoryRepo();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const running = backupStream(data, { repository: repo, filename: 'big', writeGate: gate });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await repoFiles(repo)).toBe(0);
    open();
    const res = await running;
    expect(res.snapshotId).toBeDefined();
    expect(await repoFiles(repo)).toBeGreaterThanOrEqual(4); // ≥ 2 packs, an index, the snapshot

    const locked = await memoryRepo();
    const refused = Promise.reject(new ResticError('LOCKED', 'repository is already locked exclusively'));
    refused.catch(() => undefined);
    await expect(backupStream(data, { repository: locked, filename: 'big', writeGate: refused })).rejects.toSatisfy((e) => isResticError(e, 'LOCKED'));
    expect(await repoFiles(locked)).toBe(0);
  });

  it('backs up a buffer as a file and a dry run writes nothing', async () => {
    const repo = await memoryRepo(1);
    const dry = await backupStream(new Uint8Array(100).fill(1), { repository: repo, filename: 'x', dryRun: true });
    expect(dry.snapshotId).toBeUndefined();
    let n = 0;
    for await (const _ of repo.backend.list('pack')) n++;
    expect(n).toBe(0);
    await expect(backupStream(new Uint8Array(1), { repository: repo, filename: 'a/b' })).rejects.toSatisfy((e) => isResticError(e, 'USAGE'));
  });

  it('file system: parent reuse, excludes, and the node fields', async () => {
    const src = path.join(dir, 'src');
    mkdirSync(path.join(src, 'cache'), { recursive: true });
    writeFileSync(path.join(src, 'keep.txt'), 'keep');
    writeFileSync(path.join(src, 'skip.tmp'), 'skip');
    writeFileSync(path.join(src, 'big'), new Uint8Array(5000));
    writeFileSync(path.join(src, 'cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55');
    writeFileSync(path.join(src, 'cache', 'junk'), 'junk');
    symlinkSync('keep.txt', path.join(src, 'ln'));
    const repo = await memoryRepo();
    const opts = { repository: repo, paths: [src], excludes: ['*.tmp'], excludeCaches: true, excludeLargerThan: 4096 };
    const first = await backup(opts);
    expect(first.snapshot.excludes).toEqual(['*.tmp']);
    expect(first.snapshot.paths).toEqual([src]);
    let tree = await repo.loadTree(first.snapshot.tree);
    for (const comp of src.split('/').filter(Boolean)) tree = await repo.loadTree(tree.nodes.find((n) => n.nameText === comp)!.subtree!);
    expect(tree.nodes.map((n) => n.nameText)).toEqual(['cache', 'keep.txt', 'ln']);
    const cache = await repo.loadTree(tree.nodes[0].subtree!);
    expect(cache.nodes.map((n) => n.nameText)).toEqual(['CACHEDIR.TAG']);
    const keep = tree.nodes[1];
    expect(keep).toMatchObject({ type: 'file', mode: 0o644, size: 4n, links: 1n });
    expect(keep.atime).toEqual(keep.mtime);
    expect(keep.inode).toBeGreaterThan(0n);
    expect(new TextDecoder().decode(tree.nodes[2].linkTarget)).toBe('keep.txt');

    const second = await backup(opts);
    expect(second.parentId).toBe(first.snapshotId);
    expect(second.summary).toMatchObject({ filesNew: 0, filesChanged: 0, filesUnmodified: 2, dataBlobs: 0 });
    const forced = await backup({ ...opts, force: true });
    expect(forced.parentId).toBeUndefined();
    expect(forced.summary).toMatchObject({ filesNew: 2, dataBlobs: 0 });
    expect(parseTree).toBeTypeOf('function');
    const none = new ExcludeFilter({});
    expect(none.active).toBe(false);
  });
});
