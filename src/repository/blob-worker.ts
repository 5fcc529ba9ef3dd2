/**
 * A small pool of worker threads that hash large chunks, read and seal small files, compress +
 * encrypt blobs, and name and verify finished packs, so a backup uses more than one core: the
 * main thread walks and chunks; the workers do SHA-256, zstd, AES-CTR + Poly1305, and the
 * read-back verification of every pack before upload. Small blobs and small files travel in
 * batches (one message for many).
 *
 * Buffers the caller gives up move whole (no copy) and come back for reuse; other views are
 * copied alone before they move (a structured clone would copy their whole ArrayBuffer).
 * When started from TypeScript sources (tsx, vitest) the worker registers tsx first.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompressionLevelMode } from '../compression/index.js';
import type { MasterKey } from '../crypto/index.js';
import { ResticError, type ErrorCode } from '../errors.js';
import type { Id } from '../format/id.js';
import type { BlobType } from '../pack/header.js';
import type { FinishedPack } from '../pack/packer.js';

export type WorkerRequest =
  | { id: 0; op: 'key'; key: MasterKey }
  | { id: number; op: 'hash'; data: Uint8Array }
  | { id: number; op: 'seal'; data: Uint8Array; level: CompressionLevelMode | null; type: BlobType }
  /** Many small blobs in one message: `data` holds them back to back, `lengths` says where they end. */
  | { id: number; op: 'sealBatch'; data: Uint8Array; lengths: number[]; levels: (CompressionLevelMode | null)[]; types: BlobType[] }
  /**
   * Small files to read, hash, compress and seal as data blobs (`sizes`: their lstat sizes).
   * Paths travel as latin1 strings (one char per byte, so any byte sequence survives): a
   * Buffer would drag its whole 8 KiB pool slab through the structured clone.
   */
  | { id: number; op: 'fileBatch'; paths: string[]; sizes: number[]; level: CompressionLevelMode | null }
  | { id: number; op: 'verify'; pack: FinishedPack };

export type WorkerReply =
  | { id: number; ok: true; blobId: Id; data: Uint8Array }
  /** `returned`: the plaintext's buffer, when it was moved to the worker, back for reuse. */
  | { id: number; ok: true; sealed: Uint8Array; compressed: boolean; returned?: ArrayBuffer }
  /** The sealed blobs back to back; compressed[i] is 1 when blob i was compressed. */
  | { id: number; ok: true; sealedAll: Uint8Array; sizes: number[]; compressed: Uint8Array }
  /** Per file of a `fileBatch`; the sealed blobs of the `sealed` ones back to back in `sealedAll`. */
  | { id: number; ok: true; files: FileSealOutcome[]; sealedAll: Uint8Array }
  | { id: number; ok: true; bytes: Uint8Array; packId: Id }
  | { id: number; ok: false; error: { message: string; code?: ErrorCode; file?: string } };

/** What a worker made of one small file. */
export type FileSealOutcome =
  | { kind: 'sealed'; blobId: Id; length: number; sealedSize: number; compressed: boolean }
  /** Longer than its lstat size: the caller chunks it properly instead. */
  | { kind: 'grew' }
  /** Could not be read: the file-system error (code, errno, syscall) to report for it. */
  | { kind: 'error'; message: string; code?: string; errno?: number; syscall?: string };

/** A small file as sealed by a worker, or what kept it from being sealed. */
export type SealedFile =
  | { kind: 'sealed'; id: Id; length: number; sealed: Uint8Array; compressed: boolean }
  | { kind: 'grew' }
  | { kind: 'error'; error: NodeJS.ErrnoException };

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: unknown) => void;
}

/**
 * The most workers a pool has: one per core (at most 4). The main thread walks, reads and
 * chunks, and waits on I/O part of the time; with one worker per core the compression of
 * text-like data spreads over every core (2 cores, 256 MiB of text: 2.1 s instead of 2.6 s).
 * Beyond 4, chunking on the main thread is the limit and more workers only cost memory.
 */
export function defaultWorkerCount(): number {
  return Math.min(4, Math.max(1, availableParallelism()));
}

/**
 * The workers a pool starts with: one per core but the one the walking thread needs (at least
 * one). Without compression to do (incompressible data, small random files, unchanged files)
 * an extra thread only adds its start-up and contends for the cores: on 2 cores one worker was
 * 4-9 % faster for random data and many small files. A pool grows to `defaultWorkerCount()`
 * once its data turns out to compress (`GROW_AFTER_COMPRESSED`).
 */
export function initialWorkerCount(): number {
  return Math.max(1, Math.min(defaultWorkerCount(), availableParallelism() - 1));
}

/** Data-blob input that compressed, in bytes, after which a pool starts its remaining workers. */
const GROW_AFTER_COMPRESSED = 1024 * 1024;

/** Whether moving `u`'s ArrayBuffer (which the caller owns whole) to a worker beats copying it. */
function worthMoving(u: Uint8Array): boolean {
  return u.byteLength >= 64 * 1024 && !(u.buffer instanceof SharedArrayBuffer);
}

/**
 * Starts a worker thread. It gets the master key later, by message: workers can load (their
 * own isolate and modules: ~80 ms each) while the repository key is still being derived
 * (scrypt, ~0.3 s with its lanes on two cores), so a backup does not wait for them afterwards.
 */
function spawnWorker(): Worker {
  const here = import.meta.url;
  const isTs = here.endsWith('.ts');
  const entry = new URL(isTs ? './blob-worker-thread.ts' : './blob-worker-thread.js', here);
  if (!isTs) return new Worker(fileURLToPath(entry));
  // From sources: load tsx's ESM hooks inside the worker, then the TypeScript entry.
  const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  const code = `(async () => { const { register } = await import(${JSON.stringify(tsxApi)}); register(); await import(${JSON.stringify(entry.href)}); })().catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(code, { eval: true });
}

/** Workers started ahead of need by `prestartBlobWorkers`, waiting for a pool to adopt them. */
const spareWorkers: Worker[] = [];

/**
 * Starts `count` blob worker threads now, before a repository key exists, for the next
 * `BlobWorkerPool` to adopt. Call it before opening a repository for a backup: the workers
 * then load in parallel with the key derivation. Idle spares never keep the process alive.
 */
export function prestartBlobWorkers(count = initialWorkerCount()): void {
  while (spareWorkers.length < count) {
    const worker = spawnWorker();
    worker.unref();
    // A spare that fails to load is simply dropped; the pool will start a fresh one.
    worker.once('error', () => dropSpare(worker));
    worker.once('exit', () => dropSpare(worker));
    spareWorkers.push(worker);
  }
}

function dropSpare(worker: Worker): void {
  const i = spareWorkers.indexOf(worker);
  if (i >= 0) spareWorkers.splice(i, 1);
}

/** Stops spare workers nobody adopted (tests, or a backup that ended before storing anything). */
export async function stopSpareBlobWorkers(): Promise<void> {
  const all = spareWorkers.splice(0);
  await Promise.all(all.map((w) => w.terminate()));
}

/**
 * Blobs up to this size are sealed in batches. A message to a worker costs tens of µs on each
 * side whatever its size, more than compressing and sealing a small file's blob with the
 * native fast paths: many small files made the threads wait on messages, not on work.
 */
const BATCH_BLOB_MAX = 64 * 1024;
/** A batch is sent once it holds this many blobs or bytes, or at the end of the event-loop turn. */
const BATCH_COUNT = 64;
const BATCH_BYTES = 1024 * 1024;

/**
 * Collects small requests and hands them over as one batch once it holds `maxCount` items or
 * `maxBytes`, or at the end of the event-loop turn.
 */
class BatchQueue<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly send: (items: T[]) => void,
    private readonly maxCount = BATCH_COUNT,
    private readonly maxBytes = BATCH_BYTES,
  ) {}

  add(item: T, bytes: number): void {
    this.items.push(item);
    this.bytes += bytes;
    if (this.items.length >= this.maxCount || this.bytes >= this.maxBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.send(items);
  }
}

interface BlobBatchItem {
  data: Uint8Array;
  level: CompressionLevelMode | null;
  type: BlobType;
  resolve: (r: { sealed: Uint8Array; compressed: boolean }) => void;
  reject: (e: unknown) => void;
}

interface FileBatchItem {
  path: Uint8Array;
  size: number;
  resolve: (r: SealedFile) => void;
  reject: (e: unknown) => void;
}

const POOL_CLOSED = (): ResticError => new ResticError('FATAL', 'the blob worker pool was closed');

export class BlobWorkerPool {
  private readonly blobBatches = new BatchQueue<BlobBatchItem>((items) => this.sendBlobBatch(items));
  /** Files of one compression level per batch (a backup uses one level throughout). */
  private readonly fileBatches = new Map<CompressionLevelMode | null, BatchQueue<FileBatchItem>>();
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: unknown;
  private closing = false;
  /** The key as sent to every worker (plain arrays: structured-clonable). */
  private readonly plainKey: MasterKey;
  /** Workers the pool may still add once its data compresses (see `noteCompressed`). */
  private growBy: number;
  private compressedInput = 0;
  /** Added workers still loading (terminated with the pool). */
  private readonly joining = new Set<Worker>();
  /** True when a worker could not start (e.g. it could not load): callers fall back to the calling thread. */
  broken = false;
  /** True once every worker has loaded (until then callers may do the work themselves). */
  isReady = false;
  /**
   * True when every worker came from `prestartBlobWorkers` (already loaded or nearly): then it
   * is worth waiting the few milliseconds until they answer, rather than doing their work on
   * the calling thread — which, busy, would not even see their answer.
   */
  readonly warm: boolean;

  /** Resolves when every worker has loaded; rejects (and marks the pool broken) if one cannot start. */
  private readonly ready: Promise<void>;

  /**
   * Starts `count` workers (adopting pre-started ones); up to `maxCount` once the data turns out
   * to compress.
   */
  constructor(key: MasterKey, count = initialWorkerCount(), maxCount = count) {
    this.warm = spareWorkers.length >= count;
    this.growBy = Math.max(0, maxCount - count);
    this.plainKey = { encrypt: Uint8Array.from(key.encrypt), macK: Uint8Array.from(key.macK), macR: Uint8Array.from(key.macR) };
    const readies: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const spare = spareWorkers.shift();
      if (spare) {
        spare.removeAllListeners('error');
        spare.removeAllListeners('exit');
      }
      const slot = { worker: spare ?? spawnWorker(), busy: 0 };
      readies.push(this.attach(slot));
      this.workers.push(slot);
    }
    this.ready = Promise.all(readies).then(
      () => {
        this.isReady = true;
      },
      (err: unknown) => {
        this.broken = true;
        throw err;
      },
    );
    this.ready.catch(() => undefined); // observed by send(); avoid an unhandled rejection
  }

  /**
   * Sends a worker the key and wires its replies; resolves when it has loaded. A failure of an
   * `essential` worker (one the pool started with), or of any worker once loaded, fails the pool.
   */
  private attach(slot: { worker: Worker; busy: number }, essential = true): Promise<void> {
    const { worker } = slot;
    let loaded = false;
    // Held while starting (a caller may be waiting for it); unref'd again once ready.
    worker.ref();
    // The first message: a worker answers it with `ready` once it has loaded.
    worker.postMessage({ id: 0, op: 'key', key: this.plainKey } satisfies WorkerRequest);
    return new Promise<void>((markReady, markFailed) => {
      worker.on('message', (msg: WorkerReply | { ready: true }) => {
        if ('ready' in msg) {
          loaded = true;
          markReady();
          // Idle from now on.
          if (slot.busy === 0) worker.unref();
          return;
        }
        // An idle worker must not keep the process alive; a busy one must (the main thread
        // may have nothing else pending while it waits for the reply).
        if (--slot.busy === 0) worker.unref();
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg);
        else p.reject(new ResticError(msg.error.code ?? 'FATAL', msg.error.message, msg.error.file ? { file: msg.error.file } : {}));
      });
      worker.on('error', (err) => {
        markFailed(err);
        if (essential || loaded) this.fail(err);
      });
      worker.on('exit', (code) => {
        const err = this.closing ? POOL_CLOSED() : new ResticError('FATAL', `blob worker thread exited with code ${code}`);
        markFailed(err);
        if (code !== 0 && !this.closing && (essential || loaded)) this.fail(err);
      });
    });
  }

  /**
   * Counts data-blob input that compressed; past `GROW_AFTER_COMPRESSED` the pool starts its
   * remaining workers (compression is the heaviest work there is). They take work once loaded;
   * one that cannot start is dropped and the pool goes on without it.
   */
  private noteCompressed(bytes: number): void {
    if (this.growBy === 0 || bytes === 0) return;
    this.compressedInput += bytes;
    if (this.compressedInput < GROW_AFTER_COMPRESSED || this.closing || this.failure !== undefined) return;
    for (; this.growBy > 0; this.growBy--) {
      const slot = { worker: spawnWorker(), busy: 0 };
      this.joining.add(slot.worker);
      const joined = this.attach(slot, false);
      joined.then(
        () => {
          this.joining.delete(slot.worker);
          if (!this.closing) this.workers.push(slot);
        },
        () => {
          this.joining.delete(slot.worker);
          void slot.worker.terminate();
        },
      );
    }
  }

  /** Whether any request is waiting for a worker's answer. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Workers taking work now (grows by the ones added once loaded). */
  get size(): number {
    return this.workers.length;
  }

  /** Waits until the workers have loaded; false when they could not start. */
  async waitReady(): Promise<boolean> {
    return this.ready.then(
      () => true,
      () => false,
    );
  }

  private fail(err: unknown): void {
    if (this.failure === undefined) this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private async send(req: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    // Never hand a buffer to a worker that is not running: the caller may still need it.
    await this.ready;
    if (this.failure !== undefined) throw this.failure;
    let best = this.workers[0];
    for (const w of this.workers) if (w.busy < best.busy) best = w;
    if (best.busy++ === 0) best.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      best.worker.postMessage(req, transfer);
    });
  }

  /**
   * Compresses (when `level` is set) and seals. With `transfer` (the caller owns `data`'s whole
   * ArrayBuffer and gives it up), a large buffer moves to the worker without a copy and comes
   * back as `returned` for reuse; `data` is unusable afterwards. Without it, `data` is copied.
   */
  async seal(data: Uint8Array, level: CompressionLevelMode | null, type: BlobType, transfer = false): Promise<{ sealed: Uint8Array; compressed: boolean; returned?: ArrayBuffer }> {
    if (data.length <= BATCH_BLOB_MAX) {
      // Small: copied into the next batch (`data` stays usable; the copy is cheaper than a message).
      return new Promise((resolve, reject) => this.blobBatches.add({ data, level, type, resolve, reject }, data.length));
    }
    let payload = data;
    if (!(transfer && worthMoving(data))) {
      // A structured clone of a view copies its whole ArrayBuffer (a caller's chunk may be a
      // view of a buffer of any size): copy just the view, and move the copy. Uint8Array's own
      // slice: a Buffer's slice() is a view, and moving it would detach the caller's Buffer.
      payload = Uint8Array.prototype.slice.call(data);
    }
    const length = payload.length;
    const r = (await this.send({ id: this.nextId++, op: 'seal', data: payload, level, type }, [payload.buffer as ArrayBuffer])) as { sealed: Uint8Array; compressed: boolean; returned?: ArrayBuffer };
    if (r.compressed && type === 'data') this.noteCompressed(length);
    return r;
  }

  /**
   * Reads a small file (one chunk: at most the minimum chunk size) in a worker and hashes,
   * compresses and seals it there as a data blob, in batches: the calling thread neither reads
   * nor hashes it. The caller deduplicates by the returned ID (a duplicate
   * costs the wasted sealing of one small blob).
   */
  sealFile(path: Uint8Array, size: number, level: CompressionLevelMode | null): Promise<SealedFile> {
    let queue = this.fileBatches.get(level);
    if (!queue) {
      queue = new BatchQueue<FileBatchItem>((items) => this.sendFileBatch(items, level));
      this.fileBatches.set(level, queue);
    }
    const q = queue;
    return new Promise((resolve, reject) => q.add({ path, size, resolve, reject }, size));
  }

  private sendFileBatch(items: FileBatchItem[], level: CompressionLevelMode | null): void {
    const req: WorkerRequest = {
      id: this.nextId++,
      op: 'fileBatch',
      paths: items.map((it) => Buffer.from(it.path.buffer, it.path.byteOffset, it.path.byteLength).toString('latin1')),
      sizes: items.map((it) => it.size),
      level,
    };
    this.send(req, []).then(
      (r) => {
        const { files, sealedAll } = r as { files: FileSealOutcome[]; sealedAll: Uint8Array };
        let at = 0;
        let compressedInput = 0;
        for (let i = 0; i < items.length; i++) {
          const f = files[i];
          if (f.kind === 'sealed') {
            if (f.compressed) compressedInput += f.length;
            items[i].resolve({ kind: 'sealed', id: f.blobId, length: f.length, sealed: sealedAll.subarray(at, at + f.sealedSize), compressed: f.compressed });
            at += f.sealedSize;
          } else if (f.kind === 'grew') {
            items[i].resolve(f);
          } else {
            const error: NodeJS.ErrnoException = new Error(f.message);
            if (f.code !== undefined) error.code = f.code;
            if (f.errno !== undefined) error.errno = f.errno;
            if (f.syscall !== undefined) error.syscall = f.syscall;
            items[i].resolve({ kind: 'error', error });
          }
        }
        this.noteCompressed(compressedInput);
      },
      (err: unknown) => {
        for (const it of items) it.reject(err);
      },
    );
  }

  /** Sends small blobs as one `sealBatch` message. */
  private sendBlobBatch(items: BlobBatchItem[]): void {
    let total = 0;
    for (const it of items) total += it.data.length;
    const data = new Uint8Array(total);
    let off = 0;
    for (const it of items) {
      data.set(it.data, off);
      off += it.data.length;
    }
    const req: WorkerRequest = {
      id: this.nextId++,
      op: 'sealBatch',
      data,
      lengths: items.map((it) => it.data.length),
      levels: items.map((it) => it.level),
      types: items.map((it) => it.type),
    };
    this.send(req, [data.buffer as ArrayBuffer]).then(
      (r) => {
        const { sealedAll, sizes, compressed } = r as { sealedAll: Uint8Array; sizes: number[]; compressed: Uint8Array };
        let at = 0;
        let compressedInput = 0;
        for (let i = 0; i < items.length; i++) {
          // Tree blobs are always compressed: only data says whether the content compresses.
          if (compressed[i] === 1 && items[i].type === 'data') compressedInput += items[i].data.length;
          // Views into one buffer: it lives until the last of them is copied into its pack.
          items[i].resolve({ sealed: sealedAll.subarray(at, at + sizes[i]), compressed: compressed[i] === 1 });
          at += sizes[i];
        }
        this.noteCompressed(compressedInput);
      },
      (err: unknown) => {
        for (const it of items) it.reject(err);
      },
    );
  }

  /**
   * SHA-256 of a buffer whose whole ArrayBuffer the caller owns: the buffer moves
   * to a worker and comes back, without copies. Returns the hash and the returned buffer (use
   * it instead of `data`, which is detached). Keeps chunk hashing off the reading thread.
   */
  async hash(data: Uint8Array): Promise<{ id: Id; data: Uint8Array }> {
    if (data.buffer instanceof SharedArrayBuffer) throw new ResticError('FATAL', 'BlobWorkerPool.hash cannot move a SharedArrayBuffer');
    const r = (await this.send({ id: this.nextId++, op: 'hash', data }, [data.buffer as ArrayBuffer])) as { blobId: Id; data: Uint8Array };
    return { id: r.blobId, data: r.data };
  }

  /**
   * Names and verifies a finished pack in a worker (`pack.id` is set there: the pack's SHA-256
   * is computed from the very bytes that were verified); the bytes travel there and back
   * without copies.
   */
  async verify(pack: FinishedPack): Promise<void> {
    // A finished pack's buffer is the saver's alone (possibly larger than the pack: reused).
    const transfer = [pack.bytes.buffer as ArrayBuffer];
    const r = (await this.send({ id: this.nextId++, op: 'verify', pack }, transfer)) as { bytes: Uint8Array; packId: Id };
    pack.bytes = r.bytes;
    pack.id = r.packId;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.growBy = 0;
    await Promise.all([...this.workers.map((w) => w.worker.terminate()), ...[...this.joining].map((w) => w.terminate())]);
    this.joining.clear();
    this.workers.length = 0;
    // Requests still out (a backup that failed elsewhere) must not wait forever for a reply;
    // later requests fail at once.
    this.fail(POOL_CLOSED());
  }
}
