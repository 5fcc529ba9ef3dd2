/**
 * The checker on in-memory repositories: a healthy repository has no findings; every kind
 * of damage the structure check and read-data detect gives a typed finding naming the file
 * (index files listed twice or with different data, mixed packs, missing/short/unreferenced
 * packs, damaged snapshots, missing and damaged trees, invalid nodes, damaged blobs, a header
 * that disagrees with the index). Also the --read-data-subset parser and pack selection.
 */
import { describe, expect, it } from 'vitest';
import { relativePath } from '../../src/backend/backend.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import { sha256 } from '../../src/crypto/index.js';
import { encodeIndexFile } from '../../src/index/index-file.js';
import { checkRepository, nodeProblems, parseReadDataSubset, selectPacks, type CheckFinding } from '../../src/maintenance/check.js';
import { parseTree } from '../../src/format/node.js';
import { BlobSaver } from '../../src/repository/blob-saver.js';
import { initRepository } from '../../src/repository/init.js';
import { Repository } from '../../src/repository/repository.js';
import { isResticError } from '../../src/errors.js';

const KDF = { N: 1024, r: 8, p: 1 };
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Built {
  backend: MemoryBackend;
  repo: () => Promise<Repository>;
  dataBlobs: string[];
  root: string;
  snapshot: string;
}

/** A repo with one snapshot: root tree → file "a" (2 data blobs), dir "d" → file "b". */
async function build(rootNodes?: (ids: { a: string[]; sub: string; b: string }) => string[], version = 2): Promise<Built> {
  const backend = new MemoryBackend();
  await initRepository({ backend, password: 'pw', version, kdfParams: KDF, username: 'u', hostname: 'h' });
  const open = async (): Promise<Repository> => Repository.open({ backend, password: 'pw' });
  const r = await open();
  await r.loadIndex();
  const saver = new BlobSaver({ backend, key: r.masterKey, repoVersion: version, index: r.index, saveIndexFile: (j) => r.saveUnpacked('index', j), workers: 0 });
  const d1 = (await saver.saveBlob('data', enc('first chunk'))).id;
  const d2 = (await saver.saveBlob('data', enc('second chunk'))).id;
  const d3 = (await saver.saveBlob('data', enc('third'))).id;
  const node = (name: string, type: string, extra: string): string =>
    `{"name":"${name}","type":"${type}","mode":420,"mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":0,"gid":0${extra}}`;
  const sub = (await saver.saveBlob('tree', enc(`{"nodes":[${node('b', 'file', `,"content":["${d3}"]`)}]}\n`))).id;
  const nodes = rootNodes ? rootNodes({ a: [d1, d2], sub, b: d3 }) : [node('a', 'file', `,"content":["${d1}","${d2}"]`), node('d', 'dir', `,"subtree":"${sub}"`)];
  const root = (await saver.saveBlob('tree', enc(`{"nodes":[${nodes.join(',')}]}\n`))).id;
  await saver.flush();
  await saver.close();
  const snapshot = await r.saveUnpacked('snapshot', enc(`{"time":"2024-01-01T00:00:00Z","tree":"${root}","paths":["/x"],"hostname":"h","username":"u"}`));
  return { backend, repo: open, dataBlobs: [d1, d2, d3], root, snapshot };
}

const NODE = (name: string, type: string, extra: string): string =>
  `{"name":"${name}","type":"${type}","mode":420,"mtime":"2024-01-01T00:00:00Z","atime":"2024-01-01T00:00:00Z","ctime":"2024-01-01T00:00:00Z","uid":0,"gid":0${extra}}`;

async function findings(b: Built, readData = false): Promise<CheckFinding[]> {
  const result = await checkRepository(await b.repo(), readData ? { readData: { kind: 'all' } } : {});
  return result.findings;
}

const kinds = (f: CheckFinding[]): string[] => f.map((x) => `${x.severity}:${x.kind}`).sort();

async function packs(b: Built): Promise<{ id: string; type: 'data' | 'tree' }[]> {
  const r = await b.repo();
  const index = await r.loadIndex();
  return index.packIds().map((id) => ({ id, type: index.blobsOfPack(id)[0].type }));
}

async function flip(backend: MemoryBackend, type: 'pack' | 'snapshot', id: string, offset: number): Promise<void> {
  const data = Uint8Array.from(await backend.read(type, id));
  data[offset] ^= 1;
  await backend.remove(type, id);
  await backend.write(type, id, data);
}

describe('checkRepository', () => {
  it.each([1, 2])('a healthy v%i repository has no findings, with and without read-data', async (version) => {
    const b = await build(undefined, version);
    const r = await b.repo();
    const result = await checkRepository(r, { readData: { kind: 'all' } });
    expect(result.findings).toEqual([]);
    expect(result).toMatchObject({ errors: 0, hints: 0, snapshots: 1, trees: 2, packsRead: 2, aborted: false });
  });

  it('reports phases in restic order and selection for read-data', async () => {
    const b = await build();
    const phases: string[] = [];
    let selection: unknown;
    await checkRepository(await b.repo(), { readData: { kind: 'part', n: 1, t: 1 }, onPhase: (p) => phases.push(p), onReadDataSelection: (s) => (selection = s) });
    expect(phases).toEqual(['load-indexes', 'check-packs', 'check-snapshots', 'read-data']);
    expect(selection).toMatchObject({ selected: 2, total: 2 });
  });

  it('a pack listed by two index files: hint; with different blobs: error', async () => {
    const b = await build();
    const r = await b.repo();
    const index = await r.loadIndex();
    const dataPack = (await packs(b)).find((p) => p.type === 'data')!.id;
    await r.saveUnpacked('index', encodeIndexFile([{ id: dataPack, blobs: index.blobsOfPack(dataPack) }]));
    let f = await findings(b);
    expect(kinds(f)).toEqual(['hint:pack-in-several-indexes']);
    expect(f[0].file).toBe(relativePath('pack', dataPack));
    expect(f[0].indexIds).toHaveLength(2);
    await r.saveUnpacked('index', encodeIndexFile([{ id: dataPack, blobs: index.blobsOfPack(dataPack).slice(1) }]));
    f = await findings(b);
    expect(kinds(f)).toEqual(['error:pack-different-data']);
    expect(f[0].message).toMatch(/has different data in indexes/);
  });

  it('a damaged index file stops the check with an error naming it', async () => {
    const b = await build();
    const [indexId] = await (await b.repo()).listIds('index');
    const data = Uint8Array.from(await b.backend.read('index', indexId));
    data[20] ^= 1;
    await b.backend.remove('index', indexId);
    const newId = hex(sha256(data));
    await b.backend.write('index', newId, data);
    const result = await checkRepository(await b.repo());
    expect(result.aborted).toBe(true);
    expect(kinds(result.findings)).toEqual(['error:index-damaged']);
    expect(result.findings[0].file).toBe(relativePath('index', newId));
  });

  it('missing, short and unreferenced packs', async () => {
    const b = await build();
    const [data, tree] = [(await packs(b)).find((p) => p.type === 'data')!.id, (await packs(b)).find((p) => p.type === 'tree')!.id];
    const treeBytes = await b.backend.read('pack', tree);
    await b.backend.remove('pack', tree);
    await b.backend.write('pack', tree, treeBytes.subarray(0, treeBytes.length - 3));
    const stray = Uint8Array.from([1, 2, 3]);
    await b.backend.write('pack', hex(sha256(stray)), stray);
    await b.backend.remove('pack', data);
    const f = await findings(b);
    expect(kinds(f)).toEqual(['error:pack-missing', 'error:pack-size', 'hint:pack-unreferenced']);
    expect(f.find((x) => x.kind === 'pack-missing')!.message).toBe(`pack ${data}: does not exist`);
    expect(f.find((x) => x.kind === 'pack-size')!.message).toBe(`pack ${tree}: unexpected file size: got ${treeBytes.length - 3}, expected ${treeBytes.length}`);
  });

  it('a damaged snapshot file and a tree missing from the index', async () => {
    const b = await build();
    await flip(b.backend, 'snapshot', b.snapshot, 30);
    let f = await findings(b);
    expect(kinds(f)).toEqual(['error:snapshot-damaged']);
    expect(f[0].file).toBe(relativePath('snapshot', b.snapshot));
    // a second snapshot pointing at a tree no index has
    const r = await b.repo();
    const ghost = 'ab'.repeat(32);
    await r.saveUnpacked('snapshot', enc(`{"time":"2024-01-02T00:00:00Z","tree":"${ghost}","paths":["/x"]}`));
    f = await findings(b);
    expect(kinds(f)).toEqual(['error:snapshot-damaged', 'error:tree-damaged']);
    expect(f.find((x) => x.kind === 'tree-damaged')).toMatchObject({ treeId: ghost, message: `id ${ghost} not found in repository` });
  });

  it('a damaged tree blob: structure check names tree and pack; read-data also the pack hash', async () => {
    const b = await build();
    const r = await b.repo();
    const index = await r.loadIndex();
    const [loc] = index.lookup('tree', b.root);
    await flip(b.backend, 'pack', loc.packId, loc.offset + 20);
    let f = await findings(b);
    expect(kinds(f)).toEqual(['error:tree-damaged']);
    expect(f[0]).toMatchObject({ treeId: b.root, file: relativePath('pack', loc.packId) });
    f = await findings(b, true);
    expect(kinds(f)).toEqual(['error:pack-id-mismatch', 'error:tree-damaged']);
  });

  it('invalid nodes and data blobs missing from the index', async () => {
    const b = await build(({ a }) => [
      NODE('', 'file', ',"content":[]'),
      NODE('dev', 'irregular', ''),
      NODE('empty', 'file', ',"content":null'),
      NODE('f', 'file', `,"content":["${a[0]}","${'0'.repeat(64)}","${'cd'.repeat(32)}"]`),
      NODE('nosub', 'dir', ''),
    ]);
    const f = await findings(b);
    expect(f.every((x) => x.severity === 'error' && x.kind === 'node-invalid')).toBe(true);
    const messages = f.map((x) => x.message.replace(/^tree [0-9a-f]{64}: /, '')).sort();
    expect(messages).toEqual(
      [
        'node with empty name',
        'node "dev" with invalid type "irregular"',
        'file "empty" has nil blob list',
        'file "f" blob 1 has null ID',
        `file "f" blob ${'cd'.repeat(32)} not found in index`,
        'dir node "nosub" has no subtree',
      ].sort(),
    );
  });

  it('read-data: a damaged blob inside an intact pack file, and a header that disagrees with the index', async () => {
    const b = await build();
    const r = await b.repo();
    const index = await r.loadIndex();
    const dataPack = (await packs(b)).find((p) => p.type === 'data')!.id;
    const bytes = Uint8Array.from(await b.backend.read('pack', dataPack));
    const blobs = index.blobsOfPack(dataPack).sort((x, y) => x.offset - y.offset);
    bytes[blobs[0].offset + 20] ^= 1;
    const newId = hex(sha256(bytes));
    await b.backend.write('pack', newId, bytes);
    await b.backend.remove('pack', dataPack);
    // re-index the damaged copy under its new name, dropping the old index
    for (const id of await r.listIds('index')) await b.backend.remove('index', id);
    const others = index.packIds().filter((p) => p !== dataPack);
    await r.saveUnpacked('index', encodeIndexFile([...others.map((id) => ({ id, blobs: index.blobsOfPack(id) })), { id: newId, blobs }]));
    const f = await findings(b, true);
    expect(kinds(f)).toEqual(['error:blob-damaged']);
    expect(f[0]).toMatchObject({ packId: newId, blobId: blobs[0].id, file: relativePath('pack', newId) });
  });
});

describe('parseReadDataSubset and selectPacks', () => {
  it('parses n/t, percentages and sizes; refuses the rest with restic 0.14 wording', () => {
    expect(parseReadDataSubset('2/5')).toEqual({ kind: 'part', n: 2, t: 5 });
    expect(parseReadDataSubset('12.5%')).toEqual({ kind: 'percent', percent: 12.5 });
    expect(parseReadDataSubset('10M')).toEqual({ kind: 'size', bytes: 10 * 2 ** 20 });
    expect(parseReadDataSubset('100')).toEqual({ kind: 'size', bytes: 100 });
    for (const bad of ['0/5', '6/5', '1/257', '0%', '101%', 'x', '5q', '']) {
      expect(() => parseReadDataSubset(bad), bad).toThrow();
      try {
        parseReadDataSubset(bad);
      } catch (err) {
        expect(isResticError(err, 'USAGE')).toBe(true);
      }
    }
  });

  it('n/t picks packs by first byte mod t; x% and size pick random subsets', () => {
    const ids = ['00', '01', '02', 'ff', '10'].map((p) => p + '0'.repeat(62));
    expect(selectPacks(ids, { kind: 'part', n: 1, t: 2 }, () => 0, Math.random)).toEqual([ids[0], ids[2], ids[4]]);
    expect(selectPacks(ids, { kind: 'part', n: 2, t: 2 }, () => 0, Math.random)).toEqual([ids[1], ids[3]]);
    expect(selectPacks(ids, { kind: 'percent', percent: 40 }, () => 0, Math.random)).toHaveLength(2);
    expect(selectPacks(ids, { kind: 'percent', percent: 1 }, () => 0, Math.random)).toHaveLength(1);
    expect(selectPacks(ids, { kind: 'size', bytes: 250 }, () => 100, Math.random)).toHaveLength(3);
    expect(selectPacks(ids, { kind: 'all' }, () => 0, Math.random)).toEqual(ids);
  });

  it('nodeProblems accepts every valid node type', () => {
    const tree = parseTree(`{"nodes":[${['symlink', 'socket', 'chardev', 'dev', 'fifo'].map((t) => NODE(t, t, '')).join(',')}]}`);
    expect(nodeProblems(tree)).toEqual([]);
  });
});
