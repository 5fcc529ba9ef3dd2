import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Backend, ByteRange, FileInfo, FileType } from '../../src/backend/backend.js';
import { generateMasterKey, seal } from '../../src/crypto/index.js';
import { ResticError, isResticError, type ErrorCode } from '../../src/errors.js';
import { encodePackHeader, packSizeFromBlobs, type PackedBlob } from '../../src/pack/header.js';
import { readPackHeader } from '../../src/pack/reader.js';

function fakeId(n: number | string): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

/** Just enough of a backend for pack reads, recording every range requested. */
class PackStore implements Backend {
  readonly location = 'test:';
  readonly files = new Map<string, Uint8Array>();
  readonly reads: (ByteRange | undefined)[] = [];
  stats = 0;
  async *list(): AsyncIterable<FileInfo> {}
  async stat(_type: FileType, name: string): Promise<FileInfo> {
    this.stats++;
    const f = this.files.get(name);
    if (!f) throw new ResticError('FILE_NOT_FOUND', `${name} not found`);
    return { name, size: f.length };
  }
  async read(_type: FileType, name: string, range?: ByteRange): Promise<Uint8Array> {
    this.reads.push(range);
    const f = this.files.get(name);
    if (!f) throw new ResticError('FILE_NOT_FOUND', `${name} not found`);
    if (!range) return f.slice();
    return f.slice(range.offset, range.offset + range.length);
  }
  async write(): Promise<void> {}
  async remove(): Promise<void> {}
  async create(): Promise<void> {}
  async close(): Promise<void> {}
}

const key = generateMasterKey();

/** A pack file with random blob bytes and a real sealed header. */
function buildPack(count: number, compressedEvery = 2): { bytes: Uint8Array; blobs: PackedBlob[]; id: string } {
  const blobs: PackedBlob[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = 33 + ((i * 7919) % 500);
    blobs.push({ type: i % 3 === 0 ? 'tree' : 'data', id: fakeId(`blob${i}`), offset, length, uncompressedLength: i % compressedEvery === 0 ? length * 3 : 0 });
    offset += length;
  }
  const header = seal(key, encodePackHeader(blobs));
  const bytes = new Uint8Array(offset + header.length + 4);
  bytes.fill(0xaa, 0, offset);
  bytes.set(header, offset);
  new DataView(bytes.buffer).setUint32(offset + header.length, header.length, true);
  const id = createHash('sha256').update(bytes).digest('hex');
  return { bytes, blobs, id };
}

async function expectError(p: Promise<unknown>, code: ErrorCode, ...fragments: string[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(isResticError(err, code), String(err)).toBe(true);
    for (const f of fragments) expect((err as Error).message).toContain(f);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('readPackHeader', () => {
  it('reads a small pack with one tail read (no stat when the size is given)', async () => {
    const store = new PackStore();
    const pack = buildPack(3);
    store.files.set(pack.id, pack.bytes);
    expect(await readPackHeader(store, key, pack.id, pack.bytes.length)).toEqual(pack.blobs);
    expect(store.reads.length).toBe(1);
    expect(store.stats).toBe(0);
    expect(packSizeFromBlobs(pack.blobs)).toBe(pack.bytes.length);
  });

  it('stats the pack when the size is not given', async () => {
    const store = new PackStore();
    const pack = buildPack(5);
    store.files.set(pack.id, pack.bytes);
    expect(await readPackHeader(store, key, pack.id)).toEqual(pack.blobs);
    expect(store.stats).toBe(1);
  });

  it('reads the rest of a large header with a second request', async () => {
    const store = new PackStore();
    const pack = buildPack(400);
    store.files.set(pack.id, pack.bytes);
    expect(await readPackHeader(store, key, pack.id, pack.bytes.length)).toEqual(pack.blobs);
    expect(store.reads.length).toBe(2);
  });

  it('handles a pack smaller than the eager read', async () => {
    const store = new PackStore();
    const pack = buildPack(1);
    expect(pack.bytes.length).toBeLessThan(15 * 41 + 36);
    store.files.set(pack.id, pack.bytes);
    expect(await readPackHeader(store, key, pack.id, pack.bytes.length)).toEqual(pack.blobs);
  });

  it('reports a file too small to hold a header as a truncated pack', async () => {
    const store = new PackStore();
    const id = fakeId('tiny');
    store.files.set(id, new Uint8Array(20));
    await expectError(readPackHeader(store, key, id), 'CORRUPT', `data/${id.slice(0, 2)}/${id}`, 'truncated pack');
  });

  it('reports a truncated pack (header length beyond the file)', async () => {
    const store = new PackStore();
    const pack = buildPack(3);
    // Cut the front: the trailing length field now points before the start of the file.
    const cut = pack.bytes.subarray(pack.bytes.length - 60);
    store.files.set(pack.id, cut);
    await expectError(readPackHeader(store, key, pack.id), 'CORRUPT', pack.id, 'header length out of range', 'larger than the file');
  });

  it('rejects header lengths that are zero, too short or over 16 MiB', async () => {
    const store = new PackStore();
    const id = fakeId('bad-length');
    const bytes = new Uint8Array(200);
    const view = new DataView(bytes.buffer);
    store.files.set(id, bytes);
    view.setUint32(196, 0, true);
    await expectError(readPackHeader(store, key, id), 'CORRUPT', id, 'header length is zero');
    view.setUint32(196, 31, true);
    await expectError(readPackHeader(store, key, id), 'CORRUPT', 'header length 31 is shorter');
    const big = new Uint8Array(17 * 1024 * 1024);
    new DataView(big.buffer).setUint32(big.length - 4, 16 * 1024 * 1024 + 1, true);
    store.files.set(id, big);
    await expectError(readPackHeader(store, key, id), 'CORRUPT', 'larger than the maximum');
  });

  it('reports a damaged header as MAC_FAILED naming the pack', async () => {
    const store = new PackStore();
    const pack = buildPack(3);
    pack.bytes[pack.bytes.length - 10] ^= 1;
    store.files.set(pack.id, pack.bytes);
    await expectError(readPackHeader(store, key, pack.id), 'MAC_FAILED', `data/${pack.id.slice(0, 2)}/${pack.id}`);
  });

  it('reports garbage inside a correctly sealed header as CORRUPT', async () => {
    const store = new PackStore();
    const header = seal(key, Uint8Array.from([7, 1, 2, 3]));
    const bytes = new Uint8Array(header.length + 4);
    bytes.set(header);
    new DataView(bytes.buffer).setUint32(header.length, header.length, true);
    const id = fakeId('garbage');
    store.files.set(id, bytes);
    await expectError(readPackHeader(store, key, id), 'CORRUPT', id, 'invalid type 7');
  });

  it('fails with FILE_NOT_FOUND for a missing pack', async () => {
    await expectError(readPackHeader(new PackStore(), key, fakeId('missing')), 'FILE_NOT_FOUND');
  });
});
