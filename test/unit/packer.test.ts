import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory.js';
import { decompress } from '../../src/compression/index.js';
import { generateMasterKey, open, randomBytes, sha256 } from '../../src/crypto/index.js';
import { idFromBytes } from '../../src/format/id.js';
import { parseIndexFile } from '../../src/index/index-file.js';
import { MasterIndex } from '../../src/index/master-index.js';
import { parsePackHeader, HEADER_LENGTH_SIZE } from '../../src/pack/header.js';
import { Packer, verifyPack, MIB } from '../../src/pack/packer.js';
import { blobCompression } from '../../src/repository/blob-compression.js';
import { BlobSaver, checkPackSize } from '../../src/repository/blob-saver.js';
import { IndexWriter } from '../../src/repository/index-writer.js';
import { seal } from '../../src/crypto/index.js';
import { isResticError } from '../../src/errors.js';

function readPack(key: ReturnType<typeof generateMasterKey>, bytes: Uint8Array, id: string) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = view.getUint32(bytes.length - HEADER_LENGTH_SIZE, true);
  const header = open(key, bytes.subarray(bytes.length - 4 - hl, bytes.length - 4), 'header');
  return parsePackHeader(header, id);
}

function setup(repoVersion = 2, extra: Partial<ConstructorParameters<typeof BlobSaver>[0]> = {}) {
  const backend = new MemoryBackend();
  const key = generateMasterKey();
  const index = new MasterIndex();
  const indexFiles: Uint8Array[] = [];
  const saver = new BlobSaver({
    backend,
    key,
    repoVersion,
    index,
    saveIndexFile: async (json) => {
      indexFiles.push(json);
      return idFromBytes(sha256(json));
    },
    workers: 0,
    ...extra,
  });
  return { backend, key, index, indexFiles, saver };
}

async function packsOf(backend: MemoryBackend) {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for await (const f of backend.list('pack')) out.push({ name: f.name, bytes: await backend.read('pack', f.name) });
  return out;
}

describe('Packer', () => {
  it('assembles blobs, an encrypted header and its length; the name is the SHA-256', async () => {
    const key = generateMasterKey();
    const p = new Packer('data');
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array(0);
    p.add(idFromBytes(sha256(a)), seal(key, a), 0, 3);
    p.add(idFromBytes(sha256(b)), seal(key, b), 0, 0);
    expect(p.size).toBe(35 + 32 + 2 * 37 + 36);
    const pack = p.finish(key);
    expect(pack.bytes.length).toBe(p.size);
    expect(pack.id).toBe(idFromBytes(sha256(pack.bytes)));
    const header = readPack(key, pack.bytes, pack.id);
    expect(header).toEqual(pack.blobs);
    expect(header[1].offset).toBe(35);
    await verifyPack(key, pack);
  });

  it('verifyPack detects a flipped byte', async () => {
    const key = generateMasterKey();
    const p = new Packer('tree');
    const a = new TextEncoder().encode('{"nodes":[]}\n');
    p.add(idFromBytes(sha256(a)), seal(key, a), 0, a.length);
    const pack = p.finish(key);
    pack.bytes[20] ^= 1;
    pack.id = idFromBytes(sha256(pack.bytes));
    await expect(verifyPack(key, pack)).rejects.toSatisfy((e) => isResticError(e, 'CORRUPT') || isResticError(e, 'MAC_FAILED'));
  });
});

describe('verifyPack in slices (as the blob workers run it)', () => {
  /** A data pack of `count` random blobs of `size` bytes. */
  function packOf(count: number, size: number) {
    const key = generateMasterKey();
    const p = new Packer('data');
    for (let i = 0; i < count; i++) {
      const blob = randomBytes(size);
      p.add(idFromBytes(sha256(blob)), seal(key, blob), 0, blob.length);
    }
    return { key, pack: p.finish(key) };
  }

  it('pauses about once per MiB and passes a good pack', async () => {
    const { key, pack } = packOf(40, 100_000); // ~4 MiB
    let pauses = 0;
    await verifyPack(key, pack, { pause: async () => void pauses++ });
    expect(pauses).toBeGreaterThanOrEqual(3);
    expect(pauses).toBeLessThanOrEqual(4);
  });

  it('still finds a flipped byte in the last blob, after pausing', async () => {
    const { key, pack } = packOf(40, 100_000);
    const last = pack.blobs[pack.blobs.length - 1]!;
    pack.bytes[last.offset + 50] ^= 1;
    await expect(verifyPack(key, pack, { pause: () => new Promise((r) => setImmediate(r)) })).rejects.toSatisfy(
      (e) => isResticError(e, 'CORRUPT') || isResticError(e, 'MAC_FAILED'),
    );
  });

  it('a worker names a multi-MiB pack with the SHA-256 of its bytes, hashed in slices', async () => {
    const { BlobWorkerPool } = await import('../../src/repository/blob-worker.js');
    const { key, pack } = packOf(30, 100_000); // ~3 MiB: hashed in 1 MiB slices
    const want = pack.id;
    pack.id = '';
    const pool = new BlobWorkerPool(key, 1);
    try {
      await pool.verify(pack);
      expect(pack.id).toBe(want);
    } finally {
      await pool.close();
    }
  });
});

describe('blobCompression', () => {
  it('follows restic: v1 never, empty never, off leaves only data uncompressed', () => {
    expect(blobCompression(1, 'auto', 'data', 10)).toBeNull();
    expect(blobCompression(2, 'auto', 'data', 0)).toBeNull();
    expect(blobCompression(2, 'off', 'data', 10)).toBeNull();
    expect(blobCompression(2, 'off', 'tree', 10)).toBe('auto');
    expect(blobCompression(2, 'max', 'data', 10)).toBe('max');
  });
  it('checks the pack size range', () => {
    expect(() => checkPackSize(3 * MIB)).toThrow(/between 4 and 128 MiB/);
    expect(() => checkPackSize(129 * MIB)).toThrow(/between 4 and 128 MiB/);
    expect(checkPackSize(4 * MIB)).toBe(4 * MIB);
  });
});

describe('BlobSaver', () => {
  it('stores, deduplicates, separates data and tree, indexes after upload', async () => {
    const { backend, key, index, indexFiles, saver } = setup();
    const data = new Uint8Array(1000).fill(7);
    const r1 = await saver.saveBlob('data', data);
    const r2 = await saver.saveBlob('data', data);
    const r3 = await saver.saveBlob('tree', data);
    const r4 = await saver.saveBlob('data', new Uint8Array(0));
    expect(r1.known).toBe(false);
    expect(r2.known).toBe(true);
    expect(r3.known).toBe(false);
    expect(r3.id).toBe(r1.id);
    expect(r4.known).toBe(false);
    expect(index.has('data', r1.id)).toBe(false); // not stored yet
    expect(index.hasOrPending('data', r1.id)).toBe(true);
    await saver.flush();
    expect(index.has('data', r1.id)).toBe(true);
    expect(index.has('tree', r3.id)).toBe(true);
    const packs = await packsOf(backend);
    expect(packs).toHaveLength(2);
    for (const p of packs) {
      const header = readPack(key, p.bytes, p.name);
      expect(new Set(header.map((b) => b.type)).size).toBe(1);
      for (const b of header) {
        const payload = open(key, p.bytes.subarray(b.offset, b.offset + b.length), 'blob');
        const plain = b.uncompressedLength ? await decompress(payload, b.uncompressedLength) : payload;
        expect(idFromBytes(sha256(plain))).toBe(b.id);
        if (b.id === r4.id) expect(b.uncompressedLength).toBe(0);
        else expect(b.uncompressedLength).toBe(1000);
      }
    }
    expect(indexFiles).toHaveLength(1);
    const parsed = parseIndexFile(indexFiles[0], '0'.repeat(64));
    expect(parsed.packs.map((p) => p.id).sort()).toEqual(packs.map((p) => p.name).sort());
    expect(saver.stats.dataBlobs).toBe(2);
    expect(saver.stats.treeBlobs).toBe(1);
  });

  it('never compresses in v1 and leaves data uncompressed with off', async () => {
    for (const [version, mode, expectData, expectTree] of [
      [1, 'auto', 0, 0],
      [2, 'off', 0, 1],
    ] as const) {
      const { backend, key, saver } = setup(version, { compression: mode });
      await saver.saveBlob('data', new Uint8Array(500).fill(1));
      await saver.saveBlob('tree', new Uint8Array(500).fill(2));
      await saver.flush();
      for (const p of await packsOf(backend)) {
        for (const b of readPack(key, p.bytes, p.name)) {
          expect(b.uncompressedLength !== 0 ? 1 : 0).toBe(b.type === 'data' ? expectData : expectTree);
        }
      }
    }
  });

  it('finishes packs at the target size and writes index files at the blob threshold', async () => {
    const { backend, saver, indexFiles } = setup(2, { compression: 'off', packSize: 4 * MIB, indexFiles: { maxBlobs: 3 } });
    const chunk = 1024 * 1024;
    for (let i = 0; i < 10; i++) {
      const d = new Uint8Array(chunk);
      d[0] = i;
      d[1] = 99;
      await saver.saveBlob('data', d);
    }
    await saver.flush();
    const packs = await packsOf(backend);
    expect(packs.length).toBe(3); // 4 + 4 + 2 blobs
    for (const p of packs) expect(p.bytes.length).toBeLessThan(5 * MIB);
    // 3 packs of ≥ 3 blobs, the 2-blob pack goes at flush.
    expect(indexFiles.length).toBe(3);
  });

  it('gives the same packs through worker threads', async () => {
    const { backend, key, saver } = setup(2, { workers: 2 });
    try {
      expect(await saver.workersReady()).toBe(true);
      const big = new Uint8Array(300 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const kept = new Uint8Array(200 * 1024).fill(9);
      await saver.saveBlob('data', kept); // not ours to give away: stays usable
      expect(kept.byteLength).toBe(200 * 1024);
      const r = await saver.saveBlob('data', big, undefined, { transfer: true }); // moved to the worker
      expect(big.byteLength).toBe(0);
      await saver.saveBlob('data', new Uint8Array([1, 2, 3]));
      await saver.saveBlob('tree', new TextEncoder().encode('{"nodes":[]}\n'));
      await saver.flush();
      const packs = await packsOf(backend);
      expect(packs).toHaveLength(2);
      const all = packs.flatMap((p) => readPack(key, p.bytes, p.name));
      expect(all.find((b) => b.id === r.id)?.uncompressedLength).toBe(300 * 1024);
      expect(saver.stats.dataBytes).toBe(300 * 1024 + 200 * 1024 + 3);
    } finally {
      await saver.close();
    }
  });

  it('verifies the final packs itself while the workers still verify a full one, with the same result', async () => {
    const { backend, key, index, saver } = setup(2, { workers: 1, packSize: 4 * MIB, compression: 'off' });
    try {
      expect(await saver.workersReady()).toBe(true);
      const ids: string[] = [];
      // One full 4 MiB pack (five blobs: its verification goes to the worker), then one blob more.
      for (let i = 0; i < 6; i++) ids.push((await saver.saveBlob('data', randomBytes(900 * 1024))).id);
      await saver.saveBlob('tree', new TextEncoder().encode('{"nodes":[]}\n'));
      expect((saver as unknown as { pool: { busy: boolean } }).pool.busy).toBe(true);
      await saver.flush();
      const packs = await packsOf(backend);
      expect(packs).toHaveLength(3);
      const stored = packs.flatMap((p) => readPack(key, p.bytes, p.name));
      for (const id of ids) expect(index.has('data', id) && stored.some((b) => b.id === id)).toBe(true);
      for (const p of packs) expect(idFromBytes(sha256(p.bytes))).toBe(p.name);
    } finally {
      await saver.close();
    }
  });

  it('dry run stores nothing', async () => {
    const { backend, saver, indexFiles } = setup(2, { dryRun: true });
    await saver.saveBlob('data', new Uint8Array(10));
    await saver.flush();
    expect(await packsOf(backend)).toHaveLength(0);
    expect(indexFiles).toHaveLength(0);
  });

  it('reports an upload failure from flush', async () => {
    const { backend, saver } = setup();
    backend.write = async () => {
      throw new Error('disk full');
    };
    await saver.saveBlob('data', new Uint8Array(10));
    await expect(saver.flush()).rejects.toThrow(/disk full/);
  });
});

describe('IndexWriter', () => {
  it('writes after the age threshold', async () => {
    let t = 0;
    const saved: number[] = [];
    const w = new IndexWriter(async (j) => {
      saved.push(j.length);
      return '0'.repeat(64);
    }, { now: () => t });
    w.addPack('1'.repeat(64), [{ type: 'data', id: '2'.repeat(64), offset: 0, length: 40, uncompressedLength: 0 }]);
    expect(saved).toHaveLength(0);
    t = 11 * 60 * 1000;
    w.addPack('3'.repeat(64), [{ type: 'data', id: '4'.repeat(64), offset: 0, length: 40, uncompressedLength: 0 }]);
    await w.flush();
    expect(saved).toHaveLength(1);
  });
});

describe('BlobWorkerPool', () => {
  it('falls back to the calling thread when a worker cannot start', async () => {
    const { BlobWorkerPool } = await import('../../src/repository/blob-worker.js');
    const key = generateMasterKey();
    const pool = new BlobWorkerPool(key, 1);
    // simulate a worker that dies while loading
    (pool as unknown as { workers: { worker: { emit(e: string, v: unknown): void } }[] }).workers[0].worker.emit('error', new Error('cannot load'));
    const data = new Uint8Array(100_000).fill(3);
    await expect(pool.seal(data, null, 'data')).rejects.toThrow(/cannot load/);
    expect(pool.broken).toBe(true);
    expect(data.byteLength).toBe(100_000); // never transferred
    await pool.close();
  });
});

describe('compressDataInto', () => {
  it('stores what compressIfSmaller stores, in place, for small data blobs of every mode', async () => {
    const { compressDataInto, compressIfSmaller } = await import('../../src/repository/blob-compression.js');
    const text = Buffer.from('a line of text that repeats, a line of text that repeats\n'.repeat(200));
    const noise = randomBytes(5_000);
    for (const data of [new Uint8Array(text), noise, new Uint8Array(text.subarray(0, 20)), new Uint8Array(0)]) {
      for (const level of ['auto', 'max', 'fastest', null] as const) {
        const want = await compressIfSmaller(data, level, 'data');
        const out = new Uint8Array(data.length + 64);
        const got = compressDataInto(data, level, out, 16);
        if (!got) continue; // no libzstd addon here: the caller uses compressIfSmaller
        expect(got.compressed).toBe(want.compressed);
        const payload = got.compressed ? out.subarray(16, 16 + got.length) : data;
        expect(Buffer.from(payload).equals(Buffer.from(want.payload))).toBe(true);
      }
    }
    // Large enough for auto's sampling: not this path.
    expect(compressDataInto(new Uint8Array(70_000), 'auto', new Uint8Array(70_100), 0)).toBeUndefined();
  });
});

describe('compressIfSmaller', () => {
  it('keeps an incompressible data blob as it is, but always compresses tree blobs as restic does', async () => {
    const { compressIfSmaller } = await import('../../src/repository/blob-compression.js');
    const tiny = new TextEncoder().encode('{"nodes":[]}\n');
    expect((await compressIfSmaller(tiny, 'auto', 'data')).compressed).toBe(false);
    // restic's prune repacks tree packs that hold uncompressed blobs: trees must stay compressed.
    expect((await compressIfSmaller(tiny, 'auto', 'tree')).compressed).toBe(true);
  });

  it('auto: a large blob whose samples do not compress is kept as it is; any compressible part gets it compressed', async () => {
    const { compressIfSmaller } = await import('../../src/repository/blob-compression.js');
    const { randomBytes } = await import('node:crypto');
    const random = new Uint8Array(randomBytes(1024 * 1024));
    expect((await compressIfSmaller(random, 'auto', 'data')).compressed).toBe(false);
    // random except for a compressible middle: the middle sample catches it
    const mixed = Uint8Array.from(random);
    mixed.fill(7, 400 * 1024, 600 * 1024);
    const m = await compressIfSmaller(mixed, 'auto', 'data');
    expect(m.compressed).toBe(true);
    expect(m.payload.length).toBeLessThan(mixed.length - 150 * 1024);
    // compressible only at the end
    const tail = Uint8Array.from(random);
    tail.fill(0, tail.length - 100 * 1024);
    expect((await compressIfSmaller(tail, 'auto', 'data')).compressed).toBe(true);
    // max tries the whole blob whatever the samples say (and keeps it as it is when it does not shrink)
    expect((await compressIfSmaller(random, 'max', 'data')).compressed).toBe(false);
  });
});
