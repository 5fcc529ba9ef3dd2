/**
 * The master index: every blob of every loaded index file, answering "where is blob X?".
 *
 * Repositories hold millions of blobs, so nothing here is one JS object per blob. Each blob
 * is an entry number into parallel typed arrays (ID bytes, type, pack ordinal, offset,
 * length, uncompressed length, next entry of the same pack), and an open-addressing hash
 * table of Uint32 slots maps (type, ID) to entry numbers. About 60 bytes per blob, against
 * several hundred for a Map of objects (see benchmarks/master-index.ts).
 *
 * Semantics follow restic's: the same blob may live in several packs and every copy is
 * kept (lookup returns all); an entry identical in every field to one already present (the
 * same pack listed in two index files) is kept once.
 */
import { relativePath } from '../backend/backend.js';
import { ResticError } from '../errors.js';
import { ID_BYTES, idFromBytes, isId, type Id } from '../format/id.js';
import { COMPRESSED_ENTRY_SIZE, PACK_OVERHEAD, PLAIN_ENTRY_SIZE, type BlobType, type PackedBlob } from '../pack/header.js';
import { scanIndexFile, type BlobBatch, type IndexFileContent } from './index-file.js';

/** Where one copy of a blob is stored. */
export interface BlobLocation {
  packId: Id;
  offset: number;
  length: number;
  /** 0 = stored uncompressed. */
  uncompressedLength: number;
}

/** One index entry, as `entries()` yields it. */
export interface IndexEntry extends BlobLocation {
  type: BlobType;
  id: Id;
}

const ID_WORDS = ID_BYTES / 4;
const TYPE_CODE: Record<BlobType, number> = { data: 0, tree: 1 };
const TYPE_NAME: readonly BlobType[] = ['data', 'tree'];
const U32_MAX = 0xffff_ffff;
const NONE = 0; // slot / link value meaning "empty"; stored values are entry + 1

/** Murmur3's finaliser: spreads every input bit over the result. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function growU32(a: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(capacity);
  b.set(a);
  return b;
}

/** A reusable 32-byte buffer that hex IDs are decoded into, viewed as bytes and as words. */
class IdScratch {
  readonly bytes = Buffer.from(new ArrayBuffer(ID_BYTES));
  readonly words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, ID_WORDS);
  /** Decodes `id`; false if it is not 64 hex characters. */
  load(id: string): boolean {
    if (id.length !== 2 * ID_BYTES) return false;
    return this.bytes.write(id, 'hex') === ID_BYTES;
  }
}

/**
 * A set of 32-byte IDs numbered 0, 1, 2… in insertion order (packs, index files).
 * IDs in one growable byte array, an open-addressing table of ordinal + 1.
 */
class IdTable {
  private words = new Uint32Array(0);
  private strings: Id[] = [];
  private slots = new Uint32Array(16);
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0;

  get size(): number {
    return this.strings.length;
  }

  idAt(ordinal: number): Id {
    return this.strings[ordinal];
  }

  all(): Id[] {
    return this.strings.slice();
  }

  find(scratch: IdScratch): number {
    const w = scratch.words;
    const mask = this.slots.length - 1;
    for (let s = this.hash(w) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === NONE) return -1;
      if (this.equals(v - 1, w)) return v - 1;
    }
  }

  /** Ordinal of the ID in `scratch`, adding it when new; `isNew` tells which happened. */
  add(scratch: IdScratch, id: Id): { ordinal: number; isNew: boolean } {
    const found = this.find(scratch);
    if (found >= 0) return { ordinal: found, isNew: false };
    const ordinal = this.strings.length;
    if ((ordinal + 1) * ID_WORDS > this.words.length) this.words = growU32(this.words, Math.max(64, this.words.length * 2));
    this.words.set(scratch.words, ordinal * ID_WORDS);
    this.strings.push(id.toLowerCase());
    if ((ordinal + 1) * 4 > this.slots.length * 3) this.rehash(this.slots.length * 2);
    else this.place(ordinal);
    return { ordinal, isNew: true };
  }

  private hash(w: Uint32Array, base = 0): number {
    return mix32(w[base] ^ this.seed ^ Math.imul(w[base + 1], 0x9e37_79b1));
  }

  private equals(ordinal: number, w: Uint32Array): boolean {
    const base = ordinal * ID_WORDS;
    for (let i = 0; i < ID_WORDS; i++) if (this.words[base + i] !== w[i]) return false;
    return true;
  }

  private place(ordinal: number): void {
    const mask = this.slots.length - 1;
    let s = this.hash(this.words, ordinal * ID_WORDS) & mask;
    while (this.slots[s] !== NONE) s = (s + 1) & mask;
    this.slots[s] = ordinal + 1;
  }

  private rehash(capacity: number): void {
    this.slots = new Uint32Array(capacity);
    for (let i = 0; i < this.strings.length; i++) this.place(i);
  }
}

export class MasterIndex {
  // Per blob entry (index e): ID words [e*8, e*8+8), type code, pack ordinal, offset,
  // stored length, uncompressed length, next entry of the same pack (+1, 0 = end).
  private idWords = new Uint32Array(0);
  private types = new Uint8Array(0);
  private packOf = new Uint32Array(0);
  private offsets = new Uint32Array(0);
  private lengths = new Uint32Array(0);
  private rawLengths = new Uint32Array(0);
  private nextInPack = new Uint32Array(0);
  private count = 0;
  /** Entries whose blob (type and ID) an earlier entry already holds: copies in other packs (rare). */
  private readonly laterCopies: number[] = [];
  /** Hash table: entry + 1, NONE = empty. Power-of-two size, load ≤ 3/4. */
  private slots = new Uint32Array(1024);
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0;

  // Per pack ordinal.
  private readonly packs = new IdTable();
  private packFirst = new Uint32Array(0);
  private packBlobCounts = new Uint32Array(0);
  private packSizes = new Float64Array(0);
  /** First index file (ordinal) that listed the pack, −1 if none was given. */
  private packFirstIndexFile = new Int32Array(0);
  /** Further index files listing the same pack (rare: an interrupted rewrite or a restic bug). */
  private readonly packMoreIndexFiles = new Map<number, number[]>();

  private readonly indexFiles = new IdTable();
  private readonly legacyFiles: Id[] = [];
  /** Blobs the write side has promised to store but that are not indexed yet, keyed "d"/"t" + id. */
  private readonly pending = new Set<string>();

  private readonly scratch = new IdScratch();
  private readonly packScratch = new IdScratch();
  private readonly fileScratch = new IdScratch();

  /** Number of blob entries (copies in several packs count separately). */
  get blobCount(): number {
    return this.count;
  }

  /** Same as `blobCount`. */
  get size(): number {
    return this.count;
  }

  get packCount(): number {
    return this.packs.size;
  }

  /**
   * Adds the blobs of one pack. `sourceIndexFile` records which index file listed it
   * (for "pack contained in several indexes" reports). Entries identical to existing ones
   * are skipped. Indexed blobs stop being pending.
   */
  addPack(packId: Id, blobs: Iterable<PackedBlob>, sourceIndexFile?: Id): void {
    if (!this.packScratch.load(packId)) throw new ResticError('FATAL', `master index: invalid pack ID ${JSON.stringify(packId)}`);
    const { ordinal: pack, isNew } = this.packs.add(this.packScratch, packId);
    if (isNew) this.initPack(pack);
    if (sourceIndexFile !== undefined) this.notePackSource(pack, sourceIndexFile);
    for (const blob of blobs) this.insert(pack, blob);
  }

  /** Adds one pack from a scanner batch (see `scanIndexFile`). */
  addPackBatch(packId: Id, batch: BlobBatch, sourceIndexFile?: Id): void {
    if (!this.packScratch.load(packId)) throw new ResticError('FATAL', `master index: invalid pack ID ${JSON.stringify(packId)}`);
    const { ordinal: pack, isNew } = this.packs.add(this.packScratch, packId);
    if (isNew) this.initPack(pack);
    if (sourceIndexFile !== undefined) this.notePackSource(pack, sourceIndexFile);
    const words = new Uint32Array(batch.ids.buffer, batch.ids.byteOffset, batch.count * ID_WORDS);
    for (let i = 0; i < batch.count; i++) {
      this.insertRaw(pack, batch.types[i], words, i * ID_WORDS, batch.offsets[i], batch.lengths[i], batch.uncompressedLengths[i]);
    }
  }

  /** Adds every pack of a parsed index file and remembers the file. */
  addIndexFile(fileId: Id, content: IndexFileContent): void {
    if (this.noteIndexFile(fileId).isNew && content.legacy) this.legacyFiles.push(fileId.toLowerCase());
    for (const pack of content.packs) this.addPack(pack.id, pack.blobs, fileId);
  }

  /**
   * Decodes an index file's plaintext JSON straight into the tables (no object per blob) and
   * remembers the file. With `repositoryVersion: 1`, compressed entries are refused
   * (UNSUPPORTED_VERSION) as restic does: version 1 has no compression. Returns the blob
   * entries the file lists (before duplicate merging). On a CORRUPT file, the packs before
   * the damage stay added (the loader discards the whole index on any error).
   */
  addIndexFileJson(fileId: Id, json: Uint8Array, options: { repositoryVersion?: number } = {}): number {
    const refuseCompressed = options.repositoryVersion === 1;
    const isNewFile = this.noteIndexFile(fileId).isNew;
    const summary = scanIndexFile(json, fileId, (packId, batch) => {
      if (refuseCompressed) refuseCompressedBatch(fileId, packId, batch);
      this.addPackBatch(packId, batch, fileId);
    });
    if (isNewFile && summary.legacy) this.legacyFiles.push(fileId.toLowerCase());
    return summary.blobCount;
  }

  /** Every copy of the blob, in the order they were added; empty when unknown. */
  lookup(type: BlobType, id: Id): BlobLocation[] {
    const out: BlobLocation[] = [];
    if (!this.scratch.load(id)) return out;
    const code = TYPE_CODE[type];
    const w = this.scratch.words;
    const mask = this.slots.length - 1;
    for (let s = this.hash(w, 0, code) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === NONE) return out;
      const e = v - 1;
      if (this.types[e] === code && this.idEquals(e, w)) {
        out.push({
          packId: this.packs.idAt(this.packOf[e]),
          offset: this.offsets[e],
          length: this.lengths[e],
          uncompressedLength: this.rawLengths[e],
        });
      }
    }
  }

  has(type: BlobType, id: Id): boolean {
    return this.scratch.load(id) && this.findEntry(TYPE_CODE[type], this.scratch.words) >= 0;
  }

  /**
   * Reserves a blob for the write side: true when it was neither indexed nor pending (the
   * caller must now store it), false when someone already has it or will.
   */
  addPending(type: BlobType, id: Id): boolean {
    if (this.has(type, id)) return false;
    const key = pendingKey(type, id);
    if (this.pending.has(key)) return false;
    this.pending.add(key);
    return true;
  }

  hasOrPending(type: BlobType, id: Id): boolean {
    return this.pending.has(pendingKey(type, id)) || this.has(type, id);
  }

  /** Drops a reservation (the save failed). Adding the blob's pack drops it too. */
  removePending(type: BlobType, id: Id): void {
    this.pending.delete(pendingKey(type, id));
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  hasPack(packId: Id): boolean {
    return this.packScratch.load(packId) && this.packs.find(this.packScratch) >= 0;
  }

  /** Every pack ID, in the order packs were first added. */
  packIds(): Id[] {
    return this.packs.all();
  }

  /** The indexed blobs of a pack, by offset; empty for an unknown pack. */
  blobsOfPack(packId: Id): PackedBlob[] {
    const pack = this.packOrdinal(packId);
    if (pack < 0) return [];
    const out: PackedBlob[] = [];
    for (let v = this.packFirst[pack]; v !== NONE; v = this.nextInPack[v - 1]) {
      const e = v - 1;
      out.push({ type: TYPE_NAME[this.types[e]], id: this.entryId(e), offset: this.offsets[e], length: this.lengths[e], uncompressedLength: this.rawLengths[e] });
    }
    return out.sort((a, b) => a.offset - b.offset || a.length - b.length);
  }

  /** Number of blob entries in a pack (0 for an unknown pack). */
  packBlobCount(packId: Id): number {
    const pack = this.packOrdinal(packId);
    return pack < 0 ? 0 : this.packBlobCounts[pack];
  }

  /**
   * The pack file size the index implies, computed as restic's `pack.Size`:
   * 36 + Σ entry sizes (37 or 41) + Σ stored lengths. Undefined for an unknown pack.
   */
  packSize(packId: Id): number | undefined {
    const pack = this.packOrdinal(packId);
    return pack < 0 ? undefined : this.packSizes[pack];
  }

  /** The index files that listed the pack, in loading order. */
  indexFilesOfPack(packId: Id): Id[] {
    const pack = this.packOrdinal(packId);
    if (pack < 0 || this.packFirstIndexFile[pack] < 0) return [];
    const files = [this.indexFiles.idAt(this.packFirstIndexFile[pack])];
    for (const f of this.packMoreIndexFiles.get(pack) ?? []) files.push(this.indexFiles.idAt(f));
    return files;
  }

  /** IDs of the index files added (via `addIndexFile` or as `addPack` sources). */
  indexFileIds(): Id[] {
    return this.indexFiles.all();
  }

  /** Index files in the restic 0.1.x array form (restic ≥ 0.18 refuses them; `repair index` rewrites them). */
  legacyIndexFileIds(): Id[] {
    return this.legacyFiles.slice();
  }

  /** Every entry, in insertion order. Allocates one object per step; prefer lookups for hot paths. */
  *entries(): IterableIterator<IndexEntry> {
    for (let e = 0; e < this.count; e++) {
      yield {
        type: TYPE_NAME[this.types[e]],
        id: this.entryId(e),
        packId: this.packs.idAt(this.packOf[e]),
        offset: this.offsets[e],
        length: this.lengths[e],
        uncompressedLength: this.rawLengths[e],
      };
    }
  }

  /**
   * The entry table as columns, for passes over every blob (prune planning) that would
   * otherwise build an object and two hex strings per entry through `entries()`. Entry `e`
   * is the e-th blob added, as in `entries()`. The arrays are views of the live tables:
   * valid until the next insert, and not to be modified.
   */
  entryColumns(): {
    count: number;
    /** 0 = data, 1 = tree. */
    types: Uint8Array;
    /** Pack ordinal; `packIdOf(ordinal)` gives its ID. */
    packOf: Uint32Array;
    lengths: Uint32Array;
    uncompressedLengths: Uint32Array;
  } {
    const n = this.count;
    return {
      count: n,
      types: this.types.subarray(0, n),
      packOf: this.packOf.subarray(0, n),
      lengths: this.lengths.subarray(0, n),
      uncompressedLengths: this.rawLengths.subarray(0, n),
    };
  }

  /** The ID of a pack ordinal from `entryColumns().packOf`. */
  packIdOf(ordinal: number): Id {
    return this.packs.idAt(ordinal);
  }

  /**
   * For every entry, the first entry (lowest number) of the same blob (type and ID): equal to
   * the entry itself for a blob's first copy. Lets callers treat copies as one blob with
   * typed arrays instead of a Set of ID strings.
   */
  firstCopies(): Uint32Array {
    const out = new Uint32Array(this.count);
    for (let e = 0; e < this.count; e++) out[e] = e;
    // Only entries noted as copies at insert time need a look-up (a probe per entry would
    // cost a cache miss per blob).
    for (const e of this.laterCopies) out[e] = this.firstEntryOf(this.types[e], this.idWords, e * ID_WORDS);
    return out;
  }

  /** The first entry (lowest number) of the blob, or -1 when the index does not hold it. */
  firstEntry(type: BlobType, id: Id): number {
    const code = TYPE_CODE[type];
    if (code === undefined || !this.scratch.load(id)) return -1;
    return this.firstEntryOf(code, this.scratch.words, 0);
  }

  /** Lowest matching entry in the probe run (every copy sits in the run from the ID's slot). */
  private firstEntryOf(code: number, w: Uint32Array, base: number): number {
    const mask = this.slots.length - 1;
    let first = -1;
    for (let s = this.hash(w, base, code) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === NONE) return first;
      const e = v - 1;
      if ((first < 0 || e < first) && this.types[e] === code && this.idEquals(e, w, base)) first = e;
    }
  }

  /** Bytes held in typed arrays (blob and pack tables), for memory reports. */
  typedArrayBytes(): number {
    return (
      this.idWords.byteLength +
      this.types.byteLength +
      this.packOf.byteLength +
      this.offsets.byteLength +
      this.lengths.byteLength +
      this.rawLengths.byteLength +
      this.nextInPack.byteLength +
      this.slots.byteLength +
      this.packFirst.byteLength +
      this.packBlobCounts.byteLength +
      this.packSizes.byteLength +
      this.packFirstIndexFile.byteLength
    );
  }

  // ---- internals ----

  private insert(pack: number, blob: PackedBlob): void {
    const code = TYPE_CODE[blob.type];
    if (code === undefined) throw new ResticError('FATAL', `master index: blob ${blob.id} has invalid type ${JSON.stringify(blob.type)}`);
    if (!this.scratch.load(blob.id)) throw new ResticError('FATAL', `master index: invalid blob ID ${JSON.stringify(blob.id)}`);
    checkU32(blob.offset, 'offset', blob, this.packs.idAt(pack));
    checkU32(blob.length, 'length', blob, this.packs.idAt(pack));
    checkU32(blob.uncompressedLength, 'uncompressed length', blob, this.packs.idAt(pack));
    this.insertRaw(pack, code, this.scratch.words, 0, blob.offset, blob.length, blob.uncompressedLength);
  }

  /** Inserts one entry whose ID is `words[base, base+8)`, unless an identical entry exists. */
  private insertRaw(pack: number, code: number, words: Uint32Array, base: number, offset: number, length: number, rawLength: number): void {
    const mask = this.slots.length - 1;
    let s = this.hash(words, base, code) & mask;
    let copy = false;
    for (; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === NONE) break;
      const e = v - 1;
      if (this.types[e] === code && this.idEquals(e, words, base)) {
        if (this.packOf[e] === pack && this.offsets[e] === offset && this.lengths[e] === length && this.rawLengths[e] === rawLength) {
          return; // the same entry from another index file
        }
        copy = true; // the same blob stored again elsewhere
      }
    }
    const e = this.count;
    if (e >= this.types.length) this.growEntries();
    const ids = this.idWords;
    const to = e * ID_WORDS;
    for (let k = 0; k < ID_WORDS; k++) ids[to + k] = words[base + k];
    this.types[e] = code;
    this.packOf[e] = pack;
    this.offsets[e] = offset;
    this.lengths[e] = length;
    this.rawLengths[e] = rawLength;
    this.nextInPack[e] = this.packFirst[pack];
    this.packFirst[pack] = e + 1;
    this.packBlobCounts[pack]++;
    this.packSizes[pack] += (rawLength !== 0 ? COMPRESSED_ENTRY_SIZE : PLAIN_ENTRY_SIZE) + length;
    this.count = e + 1;
    if (copy) this.laterCopies.push(e);
    if (this.count * 4 > this.slots.length * 3) this.rehash(this.slots.length * 2);
    else this.slots[s] = e + 1;
    if (this.pending.size > 0) this.pending.delete(pendingKey(TYPE_NAME[code], this.entryId(e)));
  }

  private findEntry(code: number, w: Uint32Array): number {
    const mask = this.slots.length - 1;
    for (let s = this.hash(w, 0, code) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s];
      if (v === NONE) return -1;
      if (this.types[v - 1] === code && this.idEquals(v - 1, w)) return v - 1;
    }
  }

  private hash(w: Uint32Array, base: number, code: number): number {
    return mix32(w[base] ^ this.seed ^ Math.imul(w[base + 1] ^ code, 0x9e37_79b1));
  }

  private idEquals(e: number, w: Uint32Array, wb = 0): boolean {
    const base = e * ID_WORDS;
    const a = this.idWords;
    return (
      a[base] === w[wb] &&
      a[base + 1] === w[wb + 1] &&
      a[base + 2] === w[wb + 2] &&
      a[base + 3] === w[wb + 3] &&
      a[base + 4] === w[wb + 4] &&
      a[base + 5] === w[wb + 5] &&
      a[base + 6] === w[wb + 6] &&
      a[base + 7] === w[wb + 7]
    );
  }

  private entryId(e: number): Id {
    return Buffer.from(this.idWords.buffer, e * ID_BYTES, ID_BYTES).toString('hex');
  }

  private rehash(capacity: number): void {
    const slots = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let e = 0; e < this.count; e++) {
      let s = this.hash(this.idWords, e * ID_WORDS, this.types[e]) & mask;
      while (slots[s] !== NONE) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
  }

  /** Grows per-entry arrays by half (not double) to keep slack memory small at millions of blobs. */
  private growEntries(): void {
    const capacity = Math.max(1024, Math.ceil(this.types.length * 1.5));
    this.idWords = growU32(this.idWords, capacity * ID_WORDS);
    const types = new Uint8Array(capacity);
    types.set(this.types);
    this.types = types;
    this.packOf = growU32(this.packOf, capacity);
    this.offsets = growU32(this.offsets, capacity);
    this.lengths = growU32(this.lengths, capacity);
    this.rawLengths = growU32(this.rawLengths, capacity);
    this.nextInPack = growU32(this.nextInPack, capacity);
  }

  private initPack(pack: number): void {
    if (pack >= this.packFirst.length) {
      const capacity = Math.max(256, this.packFirst.length * 2);
      this.packFirst = growU32(this.packFirst, capacity);
      this.packBlobCounts = growU32(this.packBlobCounts, capacity);
      const sizes = new Float64Array(capacity);
      sizes.set(this.packSizes);
      this.packSizes = sizes;
      const files = new Int32Array(capacity).fill(-1);
      files.set(this.packFirstIndexFile);
      this.packFirstIndexFile = files;
    }
    this.packSizes[pack] = PACK_OVERHEAD;
  }

  private noteIndexFile(fileId: Id): { ordinal: number; isNew: boolean } {
    const scratch = this.fileScratch;
    if (!isId(fileId) || !scratch.load(fileId)) throw new ResticError('FATAL', `master index: invalid index file ID ${JSON.stringify(fileId)}`);
    return this.indexFiles.add(scratch, fileId);
  }

  private notePackSource(pack: number, fileId: Id): void {
    const file = this.noteIndexFile(fileId).ordinal;
    const first = this.packFirstIndexFile[pack];
    if (first < 0) {
      this.packFirstIndexFile[pack] = file;
      return;
    }
    if (first === file) return;
    const more = this.packMoreIndexFiles.get(pack);
    if (more === undefined) this.packMoreIndexFiles.set(pack, [file]);
    else if (!more.includes(file)) more.push(file);
  }

  private packOrdinal(packId: Id): number {
    return this.packScratch.load(packId) ? this.packs.find(this.packScratch) : -1;
  }
}

function pendingKey(type: BlobType, id: Id): string {
  return (type === 'data' ? 'd' : 't') + id.toLowerCase();
}

function checkU32(n: number, what: string, blob: PackedBlob, packId: Id): void {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) {
    throw new ResticError('CORRUPT', `master index: blob ${blob.id} in pack ${packId}: ${what} ${n} does not fit in 32 bits`, {
      file: relativePath('pack', packId),
    });
  }
}

// ---- loading ----

export interface IndexLoadProgress {
  /** Index files loaded so far. */
  loadedFiles: number;
  totalFiles: number;
  /** Blob entries in the master index so far. */
  blobs: number;
  /** The file just loaded. */
  fileId: Id;
}

export interface LoadMasterIndexOptions {
  /** Index files fetched at once (default 4). Parsing runs on the main thread between fetches. */
  concurrency?: number;
  onProgress?: (progress: IndexLoadProgress) => void;
  /**
   * The repository's version. Version 1 has no compression, so an index entry with an
   * uncompressed length there is refused (UNSUPPORTED_VERSION), as restic does.
   */
  repositoryVersion?: number;
}

/**
 * Loads every index file into a new MasterIndex. The repository supplies the callbacks:
 * `listIndexFiles` names the files, `loadIndexFile` returns one file's plaintext JSON
 * (decrypted, decompressed). Index files are loaded with bounded concurrency; the first
 * failure stops the load and is rethrown.
 */
export async function loadMasterIndex(
  listIndexFiles: () => AsyncIterable<Id> | Iterable<Id> | Promise<Iterable<Id>>,
  loadIndexFile: (fileId: Id) => Promise<Uint8Array>,
  options: LoadMasterIndexOptions = {},
): Promise<MasterIndex> {
  const listed = await listIndexFiles();
  const fileIds: Id[] = [];
  if (Symbol.asyncIterator in listed) {
    for await (const id of listed as AsyncIterable<Id>) fileIds.push(id);
  } else {
    for (const id of listed as Iterable<Id>) fileIds.push(id);
  }
  const index = new MasterIndex();
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let next = 0;
  let loaded = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < fileIds.length) {
      const fileId = fileIds[next++];
      try {
        const json = await loadIndexFile(fileId);
        index.addIndexFileJson(fileId, json, { repositoryVersion: options.repositoryVersion });
      } catch (err) {
        failed = true;
        throw err;
      }
      loaded++;
      options.onProgress?.({ loadedFiles: loaded, totalFiles: fileIds.length, blobs: index.blobCount, fileId });
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, fileIds.length); i++) workers.push(worker());
  const results = await Promise.allSettled(workers);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return index;
}

function refuseCompressedBatch(fileId: Id, packId: Id, batch: BlobBatch): void {
  for (let i = 0; i < batch.count; i++) {
    if (batch.uncompressedLengths[i] !== 0) {
      const file = relativePath('index', fileId);
      throw new ResticError(
        'UNSUPPORTED_VERSION',
        `${file}: index lists a compressed blob (${idFromBytes(batch.ids, i * ID_BYTES)}) in pack ${packId}, a feature not supported by repository version 1`,
        { file },
      );
    }
  }
}
