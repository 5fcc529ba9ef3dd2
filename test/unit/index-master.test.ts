import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isResticError } from '../../src/errors.js';
import { encodeIndexFile, parseIndexFile, type IndexedPack } from '../../src/index/index-file.js';
import { loadMasterIndex, MasterIndex } from '../../src/index/master-index.js';
import { packSizeFromBlobs, type PackedBlob } from '../../src/pack/header.js';

function fakeId(n: number | string): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

const P1 = fakeId('p1');
const P2 = fakeId('p2');
const F1 = fakeId('f1');
const F2 = fakeId('f2');

function packBlobs(prefix: string, n: number, type: 'data' | 'tree' = 'data'): PackedBlob[] {
  const blobs: PackedBlob[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const length = 40 + i;
    blobs.push({ type, id: fakeId(`${prefix}-${i}`), offset, length, uncompressedLength: i % 2 ? 0 : length * 2 });
    offset += length;
  }
  return blobs;
}

describe('MasterIndex', () => {
  it('finds blobs by (type, id) and reports their pack location', () => {
    const idx = new MasterIndex();
    const blobs = packBlobs('a', 10);
    idx.addPack(P1, blobs);
    expect(idx.blobCount).toBe(10);
    expect(idx.size).toBe(10);
    expect(idx.packCount).toBe(1);
    for (const b of blobs) {
      expect(idx.has('data', b.id)).toBe(true);
      expect(idx.has('tree', b.id)).toBe(false);
      expect(idx.lookup('data', b.id)).toEqual([{ packId: P1, offset: b.offset, length: b.length, uncompressedLength: b.uncompressedLength }]);
    }
    expect(idx.lookup('data', fakeId('nope'))).toEqual([]);
    expect(idx.lookup('data', 'not-an-id')).toEqual([]);
    expect(idx.has('data', blobs[0].id.toUpperCase())).toBe(true);
  });

  it('keeps a data blob and a tree blob with the same ID apart', () => {
    const idx = new MasterIndex();
    const id = fakeId('same');
    idx.addPack(P1, [{ type: 'data', id, offset: 0, length: 50, uncompressedLength: 0 }]);
    idx.addPack(P2, [{ type: 'tree', id, offset: 0, length: 60, uncompressedLength: 0 }]);
    expect(idx.lookup('data', id)).toEqual([{ packId: P1, offset: 0, length: 50, uncompressedLength: 0 }]);
    expect(idx.lookup('tree', id)).toEqual([{ packId: P2, offset: 0, length: 60, uncompressedLength: 0 }]);
  });

  it('keeps every copy of a blob stored in several packs', () => {
    const idx = new MasterIndex();
    const id = fakeId('dup');
    idx.addPack(P1, [{ type: 'data', id, offset: 0, length: 50, uncompressedLength: 0 }]);
    idx.addPack(P2, [
      { type: 'data', id: fakeId('other'), offset: 0, length: 10, uncompressedLength: 0 },
      { type: 'data', id, offset: 10, length: 50, uncompressedLength: 0 },
    ]);
    expect(idx.lookup('data', id)).toEqual([
      { packId: P1, offset: 0, length: 50, uncompressedLength: 0 },
      { packId: P2, offset: 10, length: 50, uncompressedLength: 0 },
    ]);
    expect(idx.blobCount).toBe(3);
  });

  it('drops exact duplicates when the same pack is listed by two index files, and remembers both files', () => {
    const idx = new MasterIndex();
    const blobs = packBlobs('a', 5);
    idx.addPack(P1, blobs, F1);
    idx.addPack(P1, blobs, F2);
    idx.addPack(P1, blobs, F2);
    expect(idx.blobCount).toBe(5);
    expect(idx.packCount).toBe(1);
    expect(idx.indexFilesOfPack(P1)).toEqual([F1, F2]);
    expect(idx.blobsOfPack(P1)).toEqual(blobs);
    expect(idx.lookup('data', blobs[2].id)).toHaveLength(1);
  });

  it('keeps entries that differ in any field', () => {
    const idx = new MasterIndex();
    const b: PackedBlob = { type: 'data', id: fakeId('x'), offset: 0, length: 50, uncompressedLength: 0 };
    idx.addPack(P1, [b, { ...b, length: 51 }, { ...b, uncompressedLength: 70 }, { ...b, offset: 1 }]);
    expect(idx.lookup('data', b.id)).toHaveLength(4);
  });

  it('lists packs, blobs of a pack in offset order, and the pack size restic computes', () => {
    const idx = new MasterIndex();
    const a = packBlobs('a', 7);
    const b = packBlobs('b', 3, 'tree');
    idx.addPack(P1, [...a].reverse());
    idx.addPack(P2, b);
    expect(idx.packIds()).toEqual([P1, P2]);
    expect(idx.hasPack(P1)).toBe(true);
    expect(idx.hasPack(fakeId('p3'))).toBe(false);
    expect(idx.blobsOfPack(P1)).toEqual(a);
    expect(idx.blobsOfPack(fakeId('p3'))).toEqual([]);
    expect(idx.packBlobCount(P2)).toBe(3);
    expect(idx.packSize(P1)).toBe(packSizeFromBlobs(a));
    expect(idx.packSize(P2)).toBe(packSizeFromBlobs(b));
    expect(idx.packSize(fakeId('p3'))).toBeUndefined();
    expect(idx.indexFilesOfPack(P1)).toEqual([]);
  });

  it('iterates every entry', () => {
    const idx = new MasterIndex();
    idx.addPack(P1, packBlobs('a', 4));
    idx.addPack(P2, packBlobs('b', 2, 'tree'));
    const entries = [...idx.entries()];
    expect(entries).toHaveLength(6);
    expect(entries[4]).toEqual({ type: 'tree', id: fakeId('b-0'), packId: P2, offset: 0, length: 40, uncompressedLength: 80 });
  });

  it('tracks pending blobs for the write side', () => {
    const idx = new MasterIndex();
    const stored = packBlobs('s', 1)[0];
    idx.addPack(P1, [stored]);
    const fresh = fakeId('fresh');
    expect(idx.addPending('data', stored.id)).toBe(false);
    expect(idx.addPending('data', fresh)).toBe(true);
    expect(idx.addPending('data', fresh)).toBe(false);
    expect(idx.hasOrPending('data', fresh)).toBe(true);
    expect(idx.hasOrPending('tree', fresh)).toBe(false);
    expect(idx.has('data', fresh)).toBe(false);
    expect(idx.pendingCount).toBe(1);
    idx.addPack(P2, [{ type: 'data', id: fresh, offset: 0, length: 10, uncompressedLength: 0 }]);
    expect(idx.pendingCount).toBe(0);
    expect(idx.hasOrPending('data', fresh)).toBe(true);
    const dropped = fakeId('dropped');
    idx.addPending('tree', dropped);
    idx.removePending('tree', dropped);
    expect(idx.hasOrPending('tree', dropped)).toBe(false);
  });

  it('rejects an offset that does not fit the 32-bit tables', () => {
    const idx = new MasterIndex();
    expect(() => idx.addPack(P1, [{ type: 'data', id: fakeId(1), offset: 2 ** 32, length: 1, uncompressedLength: 0 }])).toThrow(/32 bits/);
  });

  it('holds 1M blobs in typed arrays (memory reported, not asserted tightly)', () => {
    const idx = new MasterIndex();
    const n = 1_000_000;
    const perPack = 1000;
    // Cheap distinct IDs (a counter spread over all 32 bytes), so the test times the index, not SHA-256.
    const idBytes = Buffer.alloc(32);
    const idOf = (k: number): string => {
      for (let w = 0; w < 8; w++) idBytes.writeUInt32LE(Math.imul(k + 1, 0x9e37_79b1 + 2 * w) >>> 0, 4 * w);
      return idBytes.toString('hex');
    };
    const t0 = performance.now();
    for (let p = 0; p < n / perPack; p++) {
      const blobs: PackedBlob[] = new Array(perPack);
      for (let i = 0; i < perPack; i++) blobs[i] = { type: 'data', id: idOf(p * perPack + i), offset: i * 100, length: 100, uncompressedLength: 0 };
      idx.addPack(idOf(-p - 2), blobs);
    }
    const ms = performance.now() - t0;
    expect(idx.blobCount).toBe(n);
    expect(idx.packCount).toBe(n / perPack);
    expect(idx.lookup('data', idOf(123_456))).toEqual([{ packId: idOf(-125), offset: 45_600, length: 100, uncompressedLength: 0 }]);
    expect(idx.has('tree', idOf(123_456))).toBe(false);
    const perBlob = idx.typedArrayBytes() / n;
    console.log(`1M blobs: ${perBlob.toFixed(1)} typed-array bytes/blob, built in ${ms.toFixed(0)} ms (incl. making the ID strings)`);
    // Typed arrays only: 53 bytes of fields + hash slots + growth slack. An object per blob would be several hundred.
    expect(perBlob).toBeLessThan(120);
  });
});

describe('loadMasterIndex', () => {
  const files = new Map<string, Uint8Array>();
  const packsA: IndexedPack[] = [{ id: P1, blobs: packBlobs('a', 3) }];
  const packsB: IndexedPack[] = [{ id: P1, blobs: packBlobs('a', 3) }, { id: P2, blobs: packBlobs('b', 2, 'tree') }];
  files.set(F1, encodeIndexFile(packsA));
  files.set(F2, new TextEncoder().encode(`{"supersedes":["${F1}"],"packs":${JSON.stringify(packsB.map((p) => ({ id: p.id, blobs: p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, uncompressed_length: b.uncompressedLength })) })))}}`));
  const F3 = fakeId('legacy');
  files.set(F3, new TextEncoder().encode(`[{"id":"${fakeId('p3')}","blobs":[{"id":"${fakeId('l')}","type":"data","offset":0,"length":9}]}]`));

  it('merges every index file, ignoring supersedes, reporting progress', async () => {
    const progress: number[] = [];
    const idx = await loadMasterIndex(
      async function* () {
        yield* files.keys();
      },
      async (id) => files.get(id)!,
      { concurrency: 2, onProgress: (p) => progress.push(p.loadedFiles) },
    );
    expect(progress).toEqual([1, 2, 3]);
    expect(idx.blobCount).toBe(3 + 2 + 1);
    expect(idx.packCount).toBe(3);
    expect(idx.indexFilesOfPack(P1).sort()).toEqual([F1, F2].sort());
    expect(idx.indexFilesOfPack(P2)).toEqual([F2]);
    expect(idx.indexFileIds().sort()).toEqual([F1, F2, F3].sort());
    expect(idx.legacyIndexFileIds()).toEqual([F3]);
    // F1 is "superseded" by F2 but both stay loaded, as in restic.
    expect(idx.has('data', packsA[0].blobs[0].id)).toBe(true);
  });

  it('accepts a plain list and stops at the first bad file', async () => {
    const bad = fakeId('bad');
    const all = new Map(files);
    all.set(bad, new TextEncoder().encode('{"packs":[{"id":"x"}]}'));
    await expect(loadMasterIndex(() => [...all.keys()], async (id) => all.get(id)!)).rejects.toSatisfy(
      (err: unknown) => isResticError(err, 'CORRUPT') && (err as Error).message.includes(`index/${bad}`),
    );
  });

  it('refuses compressed entries in a version 1 repository', async () => {
    await expect(loadMasterIndex(async () => [F1], async (id) => files.get(id)!, { repositoryVersion: 1 })).rejects.toSatisfy(
      (err: unknown) => isResticError(err, 'UNSUPPORTED_VERSION') && (err as Error).message.includes(`index/${F1}`),
    );
    const idx = await loadMasterIndex(async () => [F3], async (id) => files.get(id)!, { repositoryVersion: 1 });
    expect(idx.blobCount).toBe(1);
  });

  it('round-trips an index file through the master index', () => {
    const idx = new MasterIndex();
    idx.addIndexFile(F2, parseIndexFile(files.get(F2)!, F2));
    const packs = idx.packIds().map((id) => ({ id, blobs: idx.blobsOfPack(id) }));
    expect(parseIndexFile(encodeIndexFile(packs), F2).packs).toEqual(packsB);
  });
});
