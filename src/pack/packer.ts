/**
 * Pack writer: collects already-encrypted blobs of one type and turns them into a pack file
 * (`EncBlob_1 || … || EncBlob_n || EncHeader || HeaderLength(u32 LE)`), named by the SHA-256
 * of its bytes.
 *
 * The packer does no compression or encryption of blobs itself (the blob saver does that, so
 * the work can run concurrently); it only keeps the blobs in order, knows when the pack is
 * full, seals the header and assembles the file with a single copy. `verifyPack` re-reads an
 * assembled pack the way restic will (header, then every blob: decrypt, decompress, hash) so
 * that nothing broken is ever uploaded.
 */
import { open as openSealed, seal, sha256Hex, type MasterKey } from '../crypto/index.js';
import { decompress } from '../compression/index.js';
import { ResticError } from '../errors.js';
import { idFromBytes, type Id } from '../format/id.js';
import {
  CRYPTO_OVERHEAD,
  encodePackHeader,
  HEADER_LENGTH_SIZE,
  headerEntrySize,
  MAX_HEADER_ENTRIES,
  PACK_OVERHEAD,
  parsePackHeader,
  type BlobType,
  type PackedBlob,
} from './header.js';

export const MIB = 1024 * 1024;
/** restic's default target pack size (`--pack-size`). */
export const DEFAULT_PACK_SIZE = 16 * MIB;
export const MIN_PACK_SIZE = 4 * MIB;
export const MAX_PACK_SIZE = 128 * MIB;

/** A finished pack, ready to upload. */
export interface FinishedPack {
  id: Id;
  type: BlobType;
  bytes: Uint8Array;
  /** The blobs in file order, with their offsets. */
  blobs: PackedBlob[];
  /** Sum of the blobs' original (uncompressed) lengths. */
  rawBytes: number;
}

export class Packer {
  private readonly parts: Uint8Array[] = [];
  private readonly entries: PackedBlob[] = [];
  private blobBytes = 0;
  private headerBytes = 0;
  private rawBytes = 0;

  constructor(readonly type: BlobType) {}

  /** Appends one sealed blob; returns its header entry (offset within this pack). */
  add(id: Id, sealed: Uint8Array, uncompressedLength: number, rawLength: number): PackedBlob {
    const entry: PackedBlob = { type: this.type, id, offset: this.blobBytes, length: sealed.length, uncompressedLength };
    this.parts.push(sealed);
    this.entries.push(entry);
    this.blobBytes += sealed.length;
    this.headerBytes += headerEntrySize(entry);
    this.rawBytes += rawLength;
    return entry;
  }

  get count(): number {
    return this.entries.length;
  }

  /** Size of the pack file if it were finished now. */
  get size(): number {
    return this.blobBytes + this.headerBytes + PACK_OVERHEAD;
  }

  /** restic finishes a pack once it reaches the target size or its header cannot grow. */
  isFull(targetSize: number): boolean {
    return this.size >= targetSize || this.entries.length >= MAX_HEADER_ENTRIES;
  }

  /**
   * Seals the header and assembles the file. The packer must not be used afterwards. With
   * `name: false` the pack's ID (the SHA-256 of its bytes) is left empty for the caller to set
   * (a worker thread hashes it while verifying it). With `into`, the pack is assembled at the
   * start of that buffer when it is large enough (reusing a buffer spares allocating and
   * faulting in 16 MiB per pack); `bytes` is then a view of it.
   */
  finish(key: MasterKey, options: { name?: boolean; into?: ArrayBuffer } = {}): FinishedPack {
    if (this.entries.length === 0) throw new ResticError('FATAL', 'packer: cannot finish an empty pack');
    const header = seal(key, encodePackHeader(this.entries));
    const total = this.blobBytes + header.length + HEADER_LENGTH_SIZE;
    const bytes = options.into !== undefined && options.into.byteLength >= total ? new Uint8Array(options.into, 0, total) : new Uint8Array(total);
    let pos = 0;
    for (const part of this.parts) {
      bytes.set(part, pos);
      pos += part.length;
    }
    bytes.set(header, pos);
    pos += header.length;
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(pos, header.length, true);
    this.parts.length = 0;
    const id = options.name === false ? '' : sha256Hex(bytes);
    return { id, type: this.type, bytes, blobs: this.entries, rawBytes: this.rawBytes };
  }
}

/**
 * Reads a finished pack back as restic would and checks every blob: the header decrypts and
 * lists exactly the blobs we wrote, each blob decrypts (MAC), decompresses to its recorded
 * length, and hashes to its ID. Throws CORRUPT naming the pack.
 */
/** How many bytes of blobs verifyPack checks between two `pause` calls. */
const PAUSE_EVERY = 1024 * 1024;

export async function verifyPack(key: MasterKey, pack: FinishedPack, options: { pause?: () => Promise<void> } = {}): Promise<void> {
  const { bytes, id } = pack;
  const file = `data/${id.slice(0, 2)}/${id}`;
  const fail = (what: string): never => {
    throw new ResticError('CORRUPT', `${file}: pack verification before upload failed: ${what}`, { file });
  };
  // The name was computed from these very bytes (in `finish`, or by the worker just before
  // calling this); re-hashing the whole file again would only double the hashing cost. Every
  // blob is checked below.
  if (bytes.length < PACK_OVERHEAD) fail('file too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(bytes.length - HEADER_LENGTH_SIZE, true);
  const headerStart = bytes.length - HEADER_LENGTH_SIZE - headerLength;
  if (headerLength < CRYPTO_OVERHEAD || headerStart < 0) fail(`bad header length ${headerLength}`);
  const header = parsePackHeader(openSealed(key, bytes.subarray(headerStart, bytes.length - HEADER_LENGTH_SIZE), `${file} header`), id);
  if (header.length !== pack.blobs.length) fail(`header lists ${header.length} blobs, expected ${pack.blobs.length}`);
  // `pause`, when given, is awaited after every PAUSE_EVERY bytes of blobs checked (a worker lets
  // other requests in between).
  let sincePause = 0;
  for (let i = 0; i < header.length; i++) {
    const h = header[i];
    const want = pack.blobs[i];
    if (options.pause && sincePause >= PAUSE_EVERY) {
      sincePause = 0;
      await options.pause();
    }
    sincePause += h.length;
    if (h.id !== want.id || h.type !== want.type || h.offset !== want.offset || h.length !== want.length || h.uncompressedLength !== want.uncompressedLength) {
      fail(`header entry ${i} differs from the blob written`);
    }
    if (h.offset + h.length > headerStart) fail(`blob ${h.id} extends into the header`);
    let plain = openSealed(key, bytes.subarray(h.offset, h.offset + h.length), `${file} blob ${h.id}`);
    if (h.uncompressedLength !== 0) {
      plain = await decompress(plain, h.uncompressedLength);
      if (plain.length !== h.uncompressedLength) fail(`blob ${h.id} decompresses to ${plain.length} bytes, expected ${h.uncompressedLength}`);
    }
    if (sha256Hex(plain) !== h.id) fail(`blob ${h.id} content does not hash to its ID`);
  }
  const end = header.length === 0 ? 0 : header[header.length - 1].offset + header[header.length - 1].length;
  if (end !== headerStart) fail(`blobs end at ${end} but the header starts at ${headerStart}`);
}
