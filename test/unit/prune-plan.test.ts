/**
 * Prune plan and apply on the in-memory backend: option parsing with restic's messages, the
 * per-pack decisions (unreferenced, unused, partly used tree/data packs, missing unneeded
 * packs, duplicates), refusal without side effects when used data is missing, and an apply
 * after which every needed blob still loads and a new plan finds nothing to do.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { seal, sha256, type MasterKey } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';
import { GoTime } from '../../src/format/gotime.js';
import { idFromBytes, type Id } from '../../src/format/id.js';
import { encodeTree, newNode } from '../../src/format/node.js';
import { encodeSnapshotBytes } from '../../src/format/snapshot.js';
import { encodeIndexFile } from '../../src/index/index-file.js';
import { maxUnusedBytes, parseMaxUnused, parseSize, planPrune } from '../../src/maintenance/prune.js';
import { applyPrunePlan, type PruneStep } from '../../src/maintenance/prune-apply.js';
import { Packer } from '../../src/pack/packer.js';
import type { BlobType, PackedBlob } from '../../src/pack/header.js';
import { initRepository } from '../../src/repository/init.js';
import { saveUnpacked } from '../../src/repository/index-writer.js';
import { Repository } from '../../src/repository/repository.js';

const KDF = { N: 1024, r: 1, p: 1 };
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const idOf = (b: Uint8Array): Id => idFromBytes(sha256(b));

describe('prune options', () => {
  it('parses --max-unused like restic', () => {
    expect(parseMaxUnused('5%')).toEqual({ kind: 'percent', percent: 5 });
    expect(parseMaxUnused(' 12.5% ')).toEqual({ kind: 'percent', percent: 12.5 });
    expect(parseMaxUnused('unlimited')).toEqual({ kind: 'unlimited' });
    expect(parseMaxUnused('10M')).toEqual({ kind: 'bytes', bytes: 10 * 1024 * 1024 });
    expect(parseMaxUnused('0')).toEqual({ kind: 'bytes', bytes: 0 });
    const bad: [string, RegExp][] = [
      ['', /invalid value for --max-unused: ""/],
      ['100%', /must be below 100%/],
      ['-1%', /must be positive/],
      ['x%', /invalid percentage "x%"/],
      ['5q', /invalid number of bytes "5q" for --max-unused/],
    ];
    for (const [text, message] of bad) {
      try {
        parseMaxUnused(text);
        expect.unreachable(text);
      } catch (err) {
        expect(isResticError(err, 'USAGE')).toBe(true);
        expect((err as Error).message).toMatch(message);
      }
    }
  });

  it('sizes use powers of 1024 and restic’s suffixes', () => {
    expect(parseSize('1k')).toBe(1024);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('7b')).toBe(7);
    expect(parseSize('123')).toBe(123);
    expect(() => parseSize('1.5M')).toThrow(/invalid syntax/);
    expect(() => parseSize('')).toThrow(/empty string/);
  });

  it('the 5 % default tolerates p/(100-p) of the used bytes', () => {
    expect(maxUnusedBytes({ kind: 'percent', percent: 5 }, 1900)).toBe(100);
    expect(maxUnusedBytes({ kind: 'unlimited' }, 5)).toBe(Infinity);
    expect(maxUnusedBytes({ kind: 'bytes', bytes: 9 }, 1e9)).toBe(9);
  });
});

interface Fixture {
  backend: MemoryBackend;
  repo: Repository;
  key: MasterKey;
  packs: Record<string, Id>;
  blobs: Record<string, Id>;
}

/** Writes a pack of (type, plaintext) blobs; returns its ID and entries. */
async function writePack(backend: MemoryBackend, key: MasterKey, type: BlobType, contents: Uint8Array[]): Promise<{ id: Id; blobs: PackedBlob[] }> {
  const packer = new Packer(type);
  for (const c of contents) packer.add(idOf(c), seal(key, c), 0, c.length);
  const pack = packer.finish(key);
  await backend.write('pack', pack.id, pack.bytes);
  return { id: pack.id, blobs: pack.blobs };
}

/**
 * One snapshot whose tree lists file `f` with data d1, d2. Packs:
 * - data1: d1, d2 (used) + d3 (unused)        → partly used
 * - tree1: tree (used) + an old tree (unused)  → partly used tree pack
 * - data2: d4 (unused)                          → unused
 * - data3: d1 again (a duplicate)              → unused duplicate
 * - stray: not in any index                     → unreferenced
 * - ghost: indexed, missing, holds d5 (unused)  → forgotten
 */
async function fixture(options: { dropD2FromIndex?: boolean } = {}): Promise<Fixture> {
  const backend = new MemoryBackend();
  const init = await initRepository({ backend, password: 'pw', version: 2, kdfParams: KDF, username: 'u', hostname: 'h' });
  const key = init.masterKey;
  const d = (n: number): Uint8Array => utf8(`data blob ${n} `.repeat(50 + n));
  const tree = encodeTree([newNode({ name: 'f', type: 'file', content: [idOf(d(1)), idOf(d(2))] })]);
  const oldTree = encodeTree([newNode({ name: 'old', type: 'file', content: [idOf(d(3))] })]);
  const data1 = await writePack(backend, key, 'data', [d(1), d(2), d(3)]);
  const tree1 = await writePack(backend, key, 'tree', [tree, oldTree]);
  const data2 = await writePack(backend, key, 'data', [d(4)]);
  const data3 = await writePack(backend, key, 'data', [d(1)]);
  const stray = await writePack(backend, key, 'data', [d(9)]);
  const ghost = await writePack(backend, key, 'data', [d(5)]);
  await backend.remove('pack', ghost.id);
  const indexed = [data1, tree1, data2, data3, ghost].map((p) => ({
    id: p.id,
    blobs: options.dropD2FromIndex && p.id === data1.id ? p.blobs.filter((b) => b.id !== idOf(d(2))) : p.blobs,
  }));
  await saveUnpacked({ backend, masterKey: key, config: { version: 2 } }, 'index', encodeIndexFile(indexed));
  const snapshot = encodeSnapshotBytes({ time: GoTime.parse('2024-01-01T10:00:00Z'), tree: idOf(tree), paths: ['/x'], hostname: 'h' });
  await saveUnpacked({ backend, masterKey: key, config: { version: 2 } }, 'snapshot', snapshot);
  const repo = await Repository.open({ backend, password: 'pw' });
  return {
    backend,
    repo,
    key,
    packs: { data1: data1.id, tree1: tree1.id, data2: data2.id, data3: data3.id, stray: stray.id, ghost: ghost.id },
    blobs: { d1: idOf(d(1)), d2: idOf(d(2)), d3: idOf(d(3)), tree: idOf(tree), oldTree: idOf(oldTree) },
  };
}

async function files(backend: MemoryBackend): Promise<string[]> {
  const out: string[] = [];
  for (const type of ['pack', 'index', 'snapshot'] as const) for await (const f of backend.list(type)) out.push(`${type}/${f.name}`);
  return out.sort();
}

describe('planPrune', () => {
  it('classifies every pack as restic 0.14 does', async () => {
    const f = await fixture();
    const plan = await planPrune(f.repo);
    expect([...plan.removePacksFirst.keys()]).toEqual([f.packs.stray]);
    expect([...plan.ignorePacks]).toEqual([f.packs.ghost]);
    expect(new Set(plan.removePacks)).toEqual(new Set([f.packs.data2, f.packs.data3]));
    // the tree pack is repacked (tree packs are repacked whenever partly used); the small
    // data pack has more unused than 5 % allows
    expect(new Set(plan.repackPacks)).toEqual(new Set([f.packs.tree1, f.packs.data1]));
    expect(new Set(plan.keepBlobs)).toEqual(new Set([`t${f.blobs.tree}`, `d${f.blobs.d1}`, `d${f.blobs.d2}`]));
    expect(plan.stats.blobs).toMatchObject({ used: 3, duplicate: 1, unused: 4 });
    expect(plan.stats.packs).toMatchObject({ unref: 1, repack: 2, remove: 2, partlyUsed: 2, unused: 2 });
    expect(plan.packs.get(f.packs.data3)).toMatchObject({ usedBlobs: 0, unusedBlobs: 1 });
  });

  it('keeps partly used data packs while unused space is within --max-unused (small packs are repacked regardless)', async () => {
    const f = await fixture();
    const small = await planPrune(f.repo, { maxUnused: { kind: 'unlimited' } });
    expect(small.decisions.get(f.packs.data1)).toBe('repack'); // below 1/25 of the 16 MiB pack size
    // with a pack size that makes data1 "large enough", unlimited unused space keeps it
    const plan = await planPrune(f.repo, { maxUnused: { kind: 'unlimited' }, packSize: 1000 });
    expect(plan.decisions.get(f.packs.data1)).toBe('keep');
    expect(plan.decisions.get(f.packs.tree1)).toBe('repack');
    expect(plan.keepBlobs).toEqual(new Set([`t${f.blobs.tree}`]));
    const capped = await planPrune(f.repo, { maxRepackBytes: 0 });
    expect(capped.repackPacks.size).toBe(0);
    const cacheable = await planPrune(f.repo, { repackCacheableOnly: true });
    expect(cacheable.decisions.get(f.packs.data1)).toBe('keep');
  });

  it('refuses without touching anything when a used blob is not indexed', async () => {
    const f = await fixture({ dropD2FromIndex: true });
    const before = await files(f.backend);
    await expect(planPrune(f.repo)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', message: expect.stringMatching(/data\/[0-9a-f]{8}>\} not found in the index[\s\S]*index is not complete/) });
    expect(await files(f.backend)).toEqual(before);
  });

  it('refuses when a needed pack has another size than the index implies', async () => {
    const f = await fixture();
    const bytes = await f.backend.read('pack', f.packs.data1);
    await f.backend.remove('pack', f.packs.data1);
    await f.backend.write('pack', f.packs.data1, bytes.subarray(0, bytes.length - 1));
    await expect(planPrune(f.repo)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringMatching(/calculated size \d+ does not match real size \d+[\s\S]*rebuild-index/) });
  });

  it('refuses when a needed pack is missing', async () => {
    const f = await fixture();
    await f.backend.remove('pack', f.packs.data1);
    await expect(planPrune(f.repo)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('packs from index missing in repo') });
  });
});

describe('applyPrunePlan', () => {
  it('runs the steps in the crash-safe order and leaves nothing more to prune', async () => {
    const f = await fixture();
    const plan = await planPrune(f.repo);
    const steps: PruneStep[] = [];
    const oldIndex = f.repo.index.indexFileIds();
    const result = await applyPrunePlan(f.repo, plan, { onStep: (s) => void steps.push(s) });
    const order = (s: PruneStep): number => steps.indexOf(s);
    expect(order('unreferenced-deleted')).toBeLessThan(order('new-pack-written'));
    expect(order('repacked')).toBeLessThan(order('index-written'));
    expect(order('index-written')).toBeLessThan(order('old-index-file-deleted'));
    expect(order('old-index-deleted')).toBeLessThan(order('pack-deleted'));
    expect(steps.at(-1)).toBe('done');
    expect(result.newPacks).toHaveLength(2);
    expect(new Set(result.deletedPacks)).toEqual(new Set([f.packs.data1, f.packs.tree1, f.packs.data2, f.packs.data3]));
    expect(result.deletedIndexFiles).toEqual(expect.arrayContaining(oldIndex));

    // the in-memory index was replaced by the new one
    expect(f.repo.index.indexFileIds()).toEqual(result.newIndexFiles);
    expect(f.repo.index.hasPack(f.packs.data2)).toBe(false);
    const reopened = await Repository.open({ backend: f.backend, password: 'pw' });
    for (const [type, id] of [['tree', f.blobs.tree], ['data', f.blobs.d1], ['data', f.blobs.d2]] as const) {
      expect(idOf(await reopened.loadBlob(type, id))).toBe(id);
    }
    expect(reopened.index.has('data', f.blobs.d3)).toBe(false);
    expect(reopened.index.indexFileIds()).toEqual(result.newIndexFiles);
    const again = await planPrune(reopened);
    expect(again.removePacks.size + again.repackPacks.size + again.removePacksFirst.size + again.ignorePacks.size).toBe(0);
  });
});

describe('applyPrunePlan with damaged blobs', () => {
  async function damageBlob(f: Fixture, packId: Id, blobId: Id): Promise<void> {
    const bytes = new Uint8Array(await f.backend.read('pack', packId));
    const blob = f.repo.index.blobsOfPack(packId).find((b) => b.id === blobId) as PackedBlob;
    bytes[blob.offset + 20] ^= 0x01;
    await f.backend.remove('pack', packId);
    await f.backend.write('pack', packId, bytes);
  }

  it('takes a damaged blob from another intact copy', async () => {
    const f = await fixture();
    const plan = await planPrune(f.repo);
    await damageBlob(f, f.packs.data1, f.blobs.d1); // d1 has a second copy in data3
    await applyPrunePlan(f.repo, plan);
    const reopened = await Repository.open({ backend: f.backend, password: 'pw' });
    expect(idOf(await reopened.loadBlob('data', f.blobs.d1))).toBe(f.blobs.d1);
  });

  it('stops before touching the index when a needed blob has no intact copy', async () => {
    const f = await fixture();
    const plan = await planPrune(f.repo);
    const indexBefore = f.repo.index.indexFileIds();
    await damageBlob(f, f.packs.data1, f.blobs.d2);
    await expect(applyPrunePlan(f.repo, plan)).rejects.toMatchObject({ code: 'MAC_FAILED' });
    const listed = await files(f.backend);
    for (const id of indexBefore) expect(listed).toContain(`index/${id}`);
    for (const pack of [f.packs.data1, f.packs.tree1, f.packs.data2, f.packs.data3]) expect(listed).toContain(`pack/${pack}`);
    expect(listed).not.toContain(`pack/${f.packs.stray}`); // only the unreferenced pack went
  });
});
