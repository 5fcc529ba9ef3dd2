/**
 * Pack header plaintext: the list of blobs a pack file holds.
 *
 * A pack is `EncBlob_1 || … || EncBlob_n || EncHeader || HeaderLength(u32 LE)`. The header
 * plaintext is a concatenation of fixed-size entries, one per blob, in the order the blobs
 * sit in the file. Offsets are not stored: blobs are contiguous from byte 0, so each offset
 * is the sum of the lengths before it. Four entry types exist (all integers little-endian):
 *
 *   0 data, stored as is   type(1) || length(u32) || id(32)                       37 bytes
 *   1 tree, stored as is   type(1) || length(u32) || id(32)                       37 bytes
 *   2 data, zstd           type(1) || length(u32) || uncompressed(u32) || id(32)  41 bytes
 *   3 tree, zstd           type(1) || length(u32) || uncompressed(u32) || id(32)  41 bytes
 *
 * `length` is the stored (encrypted) length including the 32 bytes of IV and MAC; the
 * uncompressed length is the length of the original content. A blob counts as compressed
 * exactly when its uncompressed length is non-zero (restic never compresses empty blobs).
 */
import { relativePath } from '../backend/backend.js';
import { ResticError } from '../errors.js';
import { ID_BYTES, idFromBytes, isId, type Id } from '../format/id.js';

export type BlobType = 'data' | 'tree';

/** One blob as a pack header (or an index file) describes it. */
export interface PackedBlob {
  type: BlobType;
  id: Id;
  /** Byte offset of the encrypted blob inside the pack file. */
  offset: number;
  /** Stored length: encrypted (and possibly compressed) bytes, including IV and MAC. */
  length: number;
  /** Length of the original content when stored compressed; 0 = stored uncompressed. */
  uncompressedLength: number;
}

/** Size of the trailing header-length field. */
export const HEADER_LENGTH_SIZE = 4;
/** IV (16) + MAC (16) around every encrypted object. */
export const CRYPTO_OVERHEAD = 32;
/** Constant bytes per pack besides blobs and entries: header IV+MAC and the length field (restic's headerSize). */
export const PACK_OVERHEAD = HEADER_LENGTH_SIZE + CRYPTO_OVERHEAD;
/** Entry size for an uncompressed blob (types 0 and 1). */
export const PLAIN_ENTRY_SIZE = 1 + 4 + ID_BYTES;
/** Entry size for a compressed blob (types 2 and 3). */
export const COMPRESSED_ENTRY_SIZE = 1 + 4 + 4 + ID_BYTES;
/** Largest header restic accepts, including the length field. */
export const MAX_HEADER_SIZE = 16 * 1024 * 1024 + HEADER_LENGTH_SIZE;
/** Most entries a header may hold (all compressed). */
export const MAX_HEADER_ENTRIES = Math.floor((MAX_HEADER_SIZE - PACK_OVERHEAD) / COMPRESSED_ENTRY_SIZE);
/** Smallest valid pack file: one empty uncompressed blob's entry, the header's IV+MAC, the length field. */
export const MIN_PACK_FILE_SIZE = PLAIN_ENTRY_SIZE + CRYPTO_OVERHEAD + HEADER_LENGTH_SIZE;
/** restic reads this many bytes from the end of a pack first, enough for 15 compressed entries. */
export const EAGER_HEADER_READ = 15 * COMPRESSED_ENTRY_SIZE + PACK_OVERHEAD;

const U32_MAX = 0xffff_ffff;

const TYPE_DATA_PLAIN = 0;
const TYPE_TREE_PLAIN = 1;
const TYPE_DATA_ZSTD = 2;
const TYPE_TREE_ZSTD = 3;

export function headerEntrySize(blob: Pick<PackedBlob, 'uncompressedLength'>): number {
  return blob.uncompressedLength !== 0 ? COMPRESSED_ENTRY_SIZE : PLAIN_ENTRY_SIZE;
}

/** The pack file's size as restic computes it from its blob list (`pack.Size`): overhead + entries + blobs. */
export function packSizeFromBlobs(blobs: Iterable<Pick<PackedBlob, 'length' | 'uncompressedLength'>>): number {
  let size = PACK_OVERHEAD;
  for (const b of blobs) size += headerEntrySize(b) + b.length;
  return size;
}

/** Decodes a decrypted pack header. Errors are CORRUPT and name `data/xx/<packId>`. */
export function parsePackHeader(plaintext: Uint8Array, packId: Id): PackedBlob[] {
  const file = relativePath('pack', packId);
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const blobs: PackedBlob[] = [];
  let pos = 0;
  let offset = 0;
  while (pos < plaintext.length) {
    const typeByte = plaintext[pos];
    if (typeByte > TYPE_TREE_ZSTD) {
      throw new ResticError('CORRUPT', `${file}: pack header entry ${blobs.length} at byte ${pos} has invalid type ${typeByte}`, { file });
    }
    const compressed = typeByte === TYPE_DATA_ZSTD || typeByte === TYPE_TREE_ZSTD;
    const size = compressed ? COMPRESSED_ENTRY_SIZE : PLAIN_ENTRY_SIZE;
    if (pos + size > plaintext.length) {
      throw new ResticError(
        'CORRUPT',
        `${file}: pack header entry ${blobs.length} at byte ${pos} is partial: ${plaintext.length - pos} of ${size} bytes`,
        { file },
      );
    }
    const length = view.getUint32(pos + 1, true);
    const uncompressedLength = compressed ? view.getUint32(pos + 5, true) : 0;
    blobs.push({
      type: typeByte === TYPE_DATA_PLAIN || typeByte === TYPE_DATA_ZSTD ? 'data' : 'tree',
      id: idFromBytes(plaintext, pos + size - ID_BYTES),
      offset,
      length,
      uncompressedLength,
    });
    offset += length;
    pos += size;
  }
  return blobs;
}

/**
 * Encodes header plaintext for blobs in file order. The header cannot store offsets, so the
 * blobs must be contiguous from 0; anything else is a programming error and throws FATAL.
 */
export function encodePackHeader(blobs: readonly PackedBlob[]): Uint8Array {
  let total = 0;
  for (const b of blobs) total += headerEntrySize(b);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let pos = 0;
  let expectedOffset = 0;
  for (const [i, b] of blobs.entries()) {
    if (b.offset !== expectedOffset) {
      throw new ResticError('FATAL', `pack header: blob ${i} (${b.id}) has offset ${b.offset}, but blobs must be contiguous (expected ${expectedOffset})`);
    }
    checkU32(b.length, 'length', i);
    checkU32(b.uncompressedLength, 'uncompressed length', i);
    if (!isId(b.id)) throw new ResticError('FATAL', `pack header: blob ${i} has invalid ID ${JSON.stringify(b.id)}`);
    const compressed = b.uncompressedLength !== 0;
    const isData = b.type === 'data';
    if (!isData && b.type !== 'tree') throw new ResticError('FATAL', `pack header: blob ${i} has invalid type ${JSON.stringify(b.type)}`);
    out[pos] = compressed ? (isData ? TYPE_DATA_ZSTD : TYPE_TREE_ZSTD) : isData ? TYPE_DATA_PLAIN : TYPE_TREE_PLAIN;
    view.setUint32(pos + 1, b.length, true);
    if (compressed) view.setUint32(pos + 5, b.uncompressedLength, true);
    const size = compressed ? COMPRESSED_ENTRY_SIZE : PLAIN_ENTRY_SIZE;
    out.set(Buffer.from(b.id, 'hex'), pos + size - ID_BYTES);
    pos += size;
    expectedOffset += b.length;
  }
  return out;
}

function checkU32(n: number, what: string, i: number): void {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) {
    throw new ResticError('FATAL', `pack header: blob ${i} ${what} ${n} does not fit in 32 bits`);
  }
}
