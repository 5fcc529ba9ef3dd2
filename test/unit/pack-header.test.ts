import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  COMPRESSED_ENTRY_SIZE,
  EAGER_HEADER_READ,
  MAX_HEADER_ENTRIES,
  MAX_HEADER_SIZE,
  MIN_PACK_FILE_SIZE,
  PACK_OVERHEAD,
  PLAIN_ENTRY_SIZE,
  encodePackHeader,
  packSizeFromBlobs,
  parsePackHeader,
  type PackedBlob,
} from '../../src/pack/header.js';
import { expectResticError } from '../support/errors.js';

function fakeId(n: number | string): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

const PACK = fakeId('pack');

/** One blob of each entry type (0 data, 1 tree, 2 data zstd, 3 tree zstd), contiguous. */
function fourTypes(): PackedBlob[] {
  return [
    { type: 'data', id: fakeId(1), offset: 0, length: 100, uncompressedLength: 0 },
    { type: 'tree', id: fakeId(2), offset: 100, length: 250, uncompressedLength: 0 },
    { type: 'data', id: fakeId(3), offset: 350, length: 4000, uncompressedLength: 9000 },
    { type: 'tree', id: fakeId(4), offset: 4350, length: 0xffff_ffff, uncompressedLength: 0xffff_fffe },
  ];
}

const expectCorrupt = (fn: () => unknown, ...fragments: string[]): void => expectResticError(fn, 'CORRUPT', ...fragments);

describe('pack header constants', () => {
  it('match restic pack.go', () => {
    expect(PLAIN_ENTRY_SIZE).toBe(37);
    expect(COMPRESSED_ENTRY_SIZE).toBe(41);
    expect(PACK_OVERHEAD).toBe(36);
    expect(MAX_HEADER_SIZE).toBe(16 * 1024 * 1024 + 4);
    expect(MAX_HEADER_ENTRIES).toBe(409_199);
    expect(MIN_PACK_FILE_SIZE).toBe(73);
    expect(EAGER_HEADER_READ).toBe(15 * 41 + 36);
  });
});

describe('encodePackHeader / parsePackHeader', () => {
  it('round-trips all four entry types with cumulative offsets', () => {
    const blobs = fourTypes();
    const bytes = encodePackHeader(blobs);
    expect(bytes.length).toBe(2 * 37 + 2 * 41);
    expect(Array.from(bytes.subarray(0, 1))).toEqual([0]);
    expect(bytes[37]).toBe(1);
    expect(bytes[74]).toBe(2);
    expect(bytes[115]).toBe(3);
    expect(parsePackHeader(bytes, PACK)).toEqual(blobs);
  });

  it('lays out entries as type, length LE, [uncompressed LE], id', () => {
    const id = fakeId('x');
    const plain = encodePackHeader([{ type: 'tree', id, offset: 0, length: 0x01020304, uncompressedLength: 0 }]);
    expect(Buffer.from(plain).toString('hex')).toBe('01' + '04030201' + id);
    const zstd = encodePackHeader([{ type: 'data', id, offset: 0, length: 0x10, uncompressedLength: 0x0a0b0c0d }]);
    expect(Buffer.from(zstd).toString('hex')).toBe('02' + '10000000' + '0d0c0b0a' + id);
  });

  it('parses an empty header as no blobs', () => {
    expect(parsePackHeader(new Uint8Array(0), PACK)).toEqual([]);
  });

  it('rejects an invalid type byte, naming the pack file', () => {
    const bytes = encodePackHeader(fourTypes());
    bytes[37] = 4;
    expectCorrupt(() => parsePackHeader(bytes, PACK), `data/${PACK.slice(0, 2)}/${PACK}`, 'entry 1', 'invalid type 4');
    bytes[37] = 0xff;
    expectCorrupt(() => parsePackHeader(bytes, PACK), 'invalid type 255');
  });

  it('rejects a partial entry (37- and 41-byte kinds)', () => {
    const bytes = encodePackHeader(fourTypes());
    expectCorrupt(() => parsePackHeader(bytes.subarray(0, 36), PACK), PACK, 'entry 0', 'partial', '36 of 37');
    expectCorrupt(() => parsePackHeader(bytes.subarray(0, 74 + 40), PACK), 'entry 2', '40 of 41');
    expectCorrupt(() => parsePackHeader(bytes.subarray(0, 74 + 1), PACK), 'entry 2', '1 of 41');
  });

  it('refuses to encode non-contiguous offsets (the header cannot store them)', () => {
    const blobs = fourTypes();
    blobs[1].offset = 99;
    expect(() => encodePackHeader(blobs)).toThrow(/contiguous/);
  });

  it('refuses lengths that do not fit in 32 bits', () => {
    expect(() => encodePackHeader([{ type: 'data', id: fakeId(1), offset: 0, length: 2 ** 32, uncompressedLength: 0 }])).toThrow(/32 bits/);
  });
});

describe('packSizeFromBlobs', () => {
  it('is restic pack.Size: 36 + entries + stored lengths', () => {
    const blobs = fourTypes();
    const stored = blobs.reduce((s, b) => s + b.length, 0);
    expect(packSizeFromBlobs(blobs)).toBe(36 + 2 * 37 + 2 * 41 + stored);
    expect(packSizeFromBlobs([])).toBe(36);
  });
});
