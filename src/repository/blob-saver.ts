/**
 * The write path from a blob's plaintext to a stored pack and index entry.
 *
 * For each blob: SHA-256 id; skip when the (type, id) is already indexed or waiting in an
 * unfinished pack; compress as the repository version and mode require; encrypt; append to
 * the open pack of its type (data and tree blobs never share a pack). A full pack is sealed,
 * verified (read back as restic will), uploaded with bounded concurrency, and only then added
 * to the in-memory index and queued for an index file. `flush` finishes the open packs, waits
 * for every upload and writes the remaining index entries, so a snapshot saved after `flush`
 * only ever refers to blobs that are stored and indexed.
 *
 * Memory is bounded: at most one open pack per type plus `uploadConcurrency` finished packs.
 */
import type { Backend } from '../backend/backend.js';
import type { CompressionMode } from '../compression/index.js';
import { seal, sha256Hex, type MasterKey } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import type { BlobType, PackedBlob } from '../pack/header.js';
import { DEFAULT_PACK_SIZE, MAX_PACK_SIZE, MIN_PACK_SIZE, Packer, verifyPack, type FinishedPack } from '../pack/packer.js';
import { blobCompression, compressIfSmaller } from './blob-compression.js';
import { BlobWorkerPool, defaultWorkerCount, initialWorkerCount, type SealedFile } from './blob-worker.js';
import { IndexWriter, type IndexWriterOptions, type SaveIndexFile } from './index-writer.js';

/** What the saver needs from the master index. */
export interface BlobIndex {
  hasOrPending(type: BlobType, id: Id): boolean;
  /** Reserves (type, id) for us: false when it is indexed or someone else reserved it. */
  addPending(type: BlobType, id: Id): boolean;
  /** Indexes a stored pack; its blobs stop being pending. */
  addPack(packId: Id, blobs: PackedBlob[]): void;
}

export interface BlobSaverOptions {
  backend: Backend;
  key: MasterKey;
  /** Repository format version: 1 never compresses. */
  repoVersion: number;
  index: BlobIndex;
  /** Stores an index file (encrypted, compressed in v2); see `Repository.saveUnpacked`. */
  saveIndexFile: SaveIndexFile;
  compression?: CompressionMode;
  /** Target pack size in bytes (default 16 MiB; 4..128 MiB). */
  packSize?: number;
  /** Packs being verified and uploaded at once (default 4: verifying and fsync-ing a 16 MiB pack takes longer than filling the next). */
  uploadConcurrency?: number;
  /** Re-read each pack before upload (default true). */
  verify?: boolean;
  /**
   * Worker threads for hashing, reading small files, compression, encryption and pack
   * verification: a fixed number (0 = do everything on the calling thread), or by default
   * `initialWorkerCount()` (one per core but one) growing to `defaultWorkerCount()` (one per
   * core, at most 4) once the data turns out to compress.
   */
  workers?: number;
  /** Count and deduplicate, but store nothing. */
  dryRun?: boolean;
  /**
   * Receives the ArrayBuffers of blobs saved with `transfer: true` once the saver is done with
   * them (sealed, or found to be known), so the caller can cut the next chunks into them.
   */
  recycle?: (buffer: ArrayBuffer) => void;
  /** No pack or index file is written before this settles (rejection: the saver fails with it). */
  writeGate?: Promise<unknown>;
  /** Thresholds for writing index files (restic's by default). */
  indexFiles?: IndexWriterOptions;
  onPackStored?: (pack: { id: Id; type: BlobType; size: number; blobs: number }) => void;
}

export interface SavedBlob {
  id: Id;
  /** True when the blob was already in the repository (or pending) and was not stored again. */
  known: boolean;
  /** Bytes this blob adds to the repository (sealed, possibly compressed); 0 when known. */
  sizeInRepo: number;
}

/** What became of a small file handed to `saveSmallFile`. */
export type SmallFileOutcome =
  | { kind: 'saved'; blob: SavedBlob; length: number }
  /** Longer than its lstat size: the caller chunks it instead. */
  | { kind: 'grew' }
  | { kind: 'error'; error: NodeJS.ErrnoException }
  /** No ready worker pool (dry run, no workers, empty file): the caller reads the file itself. */
  | { kind: 'unavailable' };

export interface BlobSaverStats {
  dataBlobs: number;
  treeBlobs: number;
  /** Original (uncompressed) bytes of new data blobs. */
  dataBytes: number;
  /** Original bytes of new tree blobs. */
  treeBytes: number;
  /** Bytes added to packs for new blobs (after compression and encryption). */
  dataBytesInRepo: number;
  treeBytesInRepo: number;
  packs: number;
  packBytes: number;
}

/** Room beyond the target size in a new pack buffer (a pack ends with the blob that fills it). */
const PACK_HEADROOM = 4 * 1024 * 1024;

/** Blobs at least this large are hashed in a worker thread when they can move there. */
const HASH_IN_WORKER_MIN = 128 * 1024;

export function checkPackSize(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < MIN_PACK_SIZE || bytes > MAX_PACK_SIZE) {
    throw new ResticError('USAGE', `pack size ${bytes} bytes is out of range: must be between 4 and 128 MiB`);
  }
  return bytes;
}

export class BlobSaver {
  private readonly packers: Record<BlobType, Packer> = { data: new Packer('data'), tree: new Packer('tree') };
  private readonly uploads = new Set<Promise<void>>();
  /** Buffers of packs already written, for the next packs (at most `uploadConcurrency`). */
  private readonly spareBuffers: ArrayBuffer[] = [];
  private readonly indexWriter: IndexWriter;
  private readonly packSize: number;
  private readonly uploadConcurrency: number;
  private readonly compression: CompressionMode;
  private failure: unknown;
  private pool?: BlobWorkerPool;
  /** Worker threads still to start: they start with the first blob to store, not before. */
  private workersToStart: number;
  private readonly workersAtMost: number;
  private workersStarting: Promise<void> = Promise.resolve();
  readonly stats: BlobSaverStats = {
    dataBlobs: 0,
    treeBlobs: 0,
    dataBytes: 0,
    treeBytes: 0,
    dataBytesInRepo: 0,
    treeBytesInRepo: 0,
    packs: 0,
    packBytes: 0,
  };

  constructor(private readonly options: BlobSaverOptions) {
    this.packSize = checkPackSize(options.packSize ?? DEFAULT_PACK_SIZE);
    this.uploadConcurrency = Math.max(1, options.uploadConcurrency ?? 4);
    this.compression = options.compression ?? 'auto';
    if (options.repoVersion < 2 && this.compression !== 'auto' && this.compression !== 'off') {
      throw new ResticError('USAGE', `compression mode ${this.compression} needs repository version 2 (this repository is version ${options.repoVersion})`);
    }
    this.indexWriter = new IndexWriter(options.saveIndexFile, options.indexFiles);
    const workers = options.workers ?? initialWorkerCount();
    this.workersToStart = workers > 0 && !options.dryRun ? workers : 0;
    // Given a number, the pool keeps that size; by default it grows when the data compresses.
    this.workersAtMost = options.workers ?? defaultWorkerCount();
  }

  /**
   * Starts the worker threads on first need: a backup of unchanged data stores no blob, and
   * loading a worker (its own isolate and modules) costs ~0.3 s CPU for nothing. The CLI
   * pre-starts them during key derivation instead (`prestartBlobWorkers`).
   */
  private startWorkers(): Promise<void> {
    if (this.workersToStart > 0) {
      const pool = new BlobWorkerPool(this.options.key, this.workersToStart, Math.max(this.workersToStart, this.workersAtMost));
      this.pool = pool;
      this.workersToStart = 0;
      // Pre-started workers answer within milliseconds: every caller waits for them then.
      if (pool.warm) this.workersStarting = pool.waitReady().then(() => undefined);
    }
    return this.workersStarting;
  }

  /** Starts the worker threads and waits for them to load (they are used once ready); false when there are none. */
  async workersReady(): Promise<boolean> {
    await this.startWorkers();
    return this.pool ? this.pool.waitReady() : false;
  }

  /** Stops the worker threads (call after `flush`, or when giving up). */
  async close(): Promise<void> {
    this.workersToStart = 0;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  /** Whether (type, id) is stored or on its way. */
  has(type: BlobType, id: Id): boolean {
    return this.options.index.hasOrPending(type, id);
  }

  /**
   * Saves one blob unless the repository already has it. Resolves once the blob sits in an
   * open pack (not necessarily uploaded: see `flush`). Back-pressure: waits while the upload
   * queue is full. `transfer: true` says the caller owns `data`'s whole ArrayBuffer and gives
   * it up: the saver may move it to a worker thread without a copy and hands it to `recycle`
   * when done. Without it, `data` is only read (and copied where it must travel).
   */
  async saveBlob(type: BlobType, data: Uint8Array, knownId?: Id, options: { transfer?: boolean } = {}): Promise<SavedBlob> {
    this.throwIfFailed();
    let id = knownId;
    if (id === undefined) {
      // Large chunks we may move are hashed in a worker (the reading thread is busy chunking);
      // small ones here, where the round trip would cost more than the hash.
      const pool = this.pool?.isReady ? this.pool : undefined;
      if (pool && options.transfer === true && data.length >= HASH_IN_WORKER_MIN && !(data.buffer instanceof SharedArrayBuffer)) {
        ({ id, data } = await pool.hash(data));
      } else {
        id = sha256Hex(data);
      }
    }
    if (data.length > 0xffff_ffff - 64) {
      throw new ResticError('FATAL', `blob ${id} is ${data.length} bytes: blobs must be smaller than 4 GiB`);
    }
    if (!this.options.index.addPending(type, id)) {
      this.giveBack(data, options.transfer === true);
      return { id, known: true, sizeInRepo: 0 };
    }
    // With `transfer`, `data` may move to a worker thread (and become unusable): keep its length.
    const length = data.length;
    const level = blobCompression(this.options.repoVersion, this.compression, type, length);
    let sizeInRepo: number;
    if (this.options.dryRun) {
      sizeInRepo = length + 32;
      this.giveBack(data, options.transfer === true);
    } else {
      let sealed: Uint8Array;
      let compressed: boolean;
      await this.startWorkers();
      // Until (cold-started) workers have loaded, do the work here rather than wait for them.
      const pool = this.pool?.isReady ? this.pool : undefined;
      let viaPool: { sealed: Uint8Array; compressed: boolean; returned?: ArrayBuffer } | undefined;
      if (pool) {
        try {
          viaPool = await pool.seal(data, level, type, options.transfer === true);
        } catch (err) {
          // A pool that never worked (worker could not start): do the work here instead.
          if (!pool.broken) throw err;
          this.pool = undefined;
        }
      }
      if (viaPool) {
        ({ sealed, compressed } = viaPool);
        if (viaPool.returned) this.recycle(viaPool.returned);
        else this.giveBack(data, options.transfer === true); // copied into a batch: still ours
      } else {
        const c = await compressIfSmaller(data, level, type);
        sealed = seal(this.options.key, c.payload);
        compressed = c.compressed;
        this.giveBack(data, options.transfer === true);
      }
      this.throwIfFailed();
      sizeInRepo = sealed.length;
      const full = this.addToPack(type, id, sealed, compressed, length);
      if (full) await full;
    }
    this.count(type, length, sizeInRepo);
    return { id, known: false, sizeInRepo };
  }

  /**
   * Saves a small file's content (one chunk) as a data blob, read, hashed, compressed and
   * sealed by a worker thread, so the calling thread does none of it. `unavailable` when there
   * is no ready worker pool (dry run, no workers): the caller reads the file and calls
   * `saveBlob`. A file that grew since `size` was taken, or cannot be read, is reported back
   * without saving anything.
   */
  saveSmallFile(path: Uint8Array, size: number): Promise<SmallFileOutcome> {
    // Called once per small file: the common case (workers up) chains one promise onto the
    // worker's reply instead of stacking async frames (their promises were a large share of
    // the walking thread's allocations in many-small-files backups).
    this.throwIfFailed();
    if (this.options.dryRun || size === 0) return Promise.resolve({ kind: 'unavailable' });
    const pool = this.pool?.isReady ? this.pool : undefined;
    if (!pool) return this.saveSmallFileOnceStarted(path, size);
    return pool.sealFile(path, size, blobCompression(this.options.repoVersion, this.compression, 'data', size)).then((r) => this.storeSealedFile(r));
  }

  private async saveSmallFileOnceStarted(path: Uint8Array, size: number): Promise<SmallFileOutcome> {
    await this.startWorkers();
    if (!this.pool?.isReady) return { kind: 'unavailable' };
    return this.saveSmallFile(path, size);
  }

  /** Puts a worker-sealed file's blob into the open pack unless it is known; a promise only when the pack filled and must wait for an upload slot. */
  private storeSealedFile(r: SealedFile): SmallFileOutcome | Promise<SmallFileOutcome> {
    if (r.kind !== 'sealed') return r;
    this.throwIfFailed();
    // A file that shrank to nothing is no blob at all (restic stores empty files without content).
    if (r.length === 0) return { kind: 'saved', blob: { id: r.id, known: true, sizeInRepo: 0 }, length: 0 };
    if (!this.options.index.addPending('data', r.id)) return { kind: 'saved', blob: { id: r.id, known: true, sizeInRepo: 0 }, length: r.length };
    const full = this.addToPack('data', r.id, r.sealed, r.compressed, r.length);
    this.count('data', r.length, r.sealed.length);
    const saved: SmallFileOutcome = { kind: 'saved', blob: { id: r.id, known: false, sizeInRepo: r.sealed.length }, length: r.length };
    return full ? full.then(() => saved) : saved;
  }

  /** Hands a blob's buffer to `recycle` when it is ours to give (not detached, not shared). */
  private giveBack(data: Uint8Array, owned: boolean): void {
    if (owned && !(data.buffer instanceof SharedArrayBuffer)) this.recycle(data.buffer as ArrayBuffer);
  }

  private recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength > 0) this.options.recycle?.(buffer); // 0: detached (moved away)
  }

  /**
   * Appends a sealed blob to the open pack of its type. When that fills the pack, starts its
   * upload and returns a promise that settles once the upload has a slot (back-pressure);
   * otherwise returns nothing, so the common case costs no promise.
   */
  private addToPack(type: BlobType, id: Id, sealed: Uint8Array, compressed: boolean, length: number): Promise<void> | undefined {
    const packer = this.packers[type];
    packer.add(id, sealed, compressed ? length : 0, length);
    if (!packer.isFull(this.packSize)) return undefined;
    this.packers[type] = new Packer(type);
    return this.startUpload(packer);
  }

  private count(type: BlobType, length: number, sizeInRepo: number): void {
    if (type === 'data') {
      this.stats.dataBlobs++;
      this.stats.dataBytes += length;
      this.stats.dataBytesInRepo += sizeInRepo;
    } else {
      this.stats.treeBlobs++;
      this.stats.treeBytes += length;
      this.stats.treeBytesInRepo += sizeInRepo;
    }
  }

  /** Finishes open packs, waits for every upload, writes the remaining index. Returns the index files written. */
  async flush(): Promise<readonly Id[]> {
    // Also when nothing new was stored: the caller writes a snapshot next.
    await this.options.writeGate;
    for (const type of ['tree', 'data'] as const) {
      const packer = this.packers[type];
      if (packer.count > 0) {
        this.packers[type] = new Packer(type);
        // The calling thread has nothing left to do but wait: when the workers are still busy
        // (verifying the last full pack), it verifies the final packs itself, side by side with
        // them, rather than queueing them behind (~25 ms off a small-file backup's tail).
        await this.startUpload(packer, this.pool?.busy === true);
      }
    }
    while (this.uploads.size > 0) await Promise.allSettled([...this.uploads]);
    this.throwIfFailed();
    return this.indexWriter.flush();
  }

  /**
   * A buffer for the next pack: a spare one that is large enough, else a new one with some
   * room (packs overshoot the target by up to one blob), so it can be reused for later packs.
   */
  private spareBuffer(size: number): ArrayBuffer {
    const i = this.spareBuffers.findIndex((b) => b.byteLength >= size);
    if (i >= 0) return this.spareBuffers.splice(i, 1)[0];
    return new ArrayBuffer(Math.max(size, Math.min(this.packSize + PACK_HEADROOM, size * 2)));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async startUpload(packer: Packer, verifyHere = false): Promise<void> {
    while (this.uploads.size >= this.uploadConcurrency) {
      await Promise.race(this.uploads);
      this.throwIfFailed();
    }
    // A ready worker pool names the pack while verifying it; otherwise it is hashed here.
    const inPool = !verifyHere && this.options.verify !== false && this.pool?.isReady === true;
    const pack = packer.finish(this.options.key, { name: !inPool, into: this.spareBuffer(packer.size) });
    const upload = this.upload(pack, inPool).catch((err: unknown) => {
      if (this.failure === undefined) this.failure = err;
    });
    const tracked = upload.finally(() => this.uploads.delete(tracked));
    this.uploads.add(tracked);
  }

  private async upload(pack: FinishedPack, inPool: boolean): Promise<void> {
    if (inPool && this.pool) {
      await this.pool.verify(pack);
    } else {
      if (pack.id === '') pack.id = sha256Hex(pack.bytes);
      if (this.options.verify !== false) await verifyPack(this.options.key, pack);
    }
    await this.options.writeGate;
    await this.options.backend.write('pack', pack.id, pack.bytes);
    // Written: the backend holds no reference any more, the buffer can take the next pack.
    if (this.spareBuffers.length < this.uploadConcurrency) this.spareBuffers.push(pack.bytes.buffer as ArrayBuffer);
    this.options.index.addPack(pack.id, pack.blobs);
    this.indexWriter.addPack(pack.id, pack.blobs);
    this.stats.packs++;
    this.stats.packBytes += pack.bytes.length;
    this.options.onPackStored?.({ id: pack.id, type: pack.type, size: pack.bytes.length, blobs: pack.blobs.length });
  }
}
