/**
 * A small pool of worker threads that hash large chunks, compress + encrypt blobs, and name and
 * verify finished packs, so a backup uses more than one core: the main thread reads and chunks
 * (and hashes small files, where a round trip would cost more than the hash); the workers do
 * SHA-256, zstd, AES-CTR + Poly1305, and the read-back verification of every pack before upload.
 *
 * Buffers that own their whole ArrayBuffer are transferred (no copy); others are cloned.
 * When started from TypeScript sources (tsx, vitest) the worker registers tsx first.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompressionLevelMode } from '../compression/index.js';
import type { MasterKey } from '../crypto/index.js';
import { ResticError, type ErrorCode } from '../errors.js';
import { idFromBytes, type Id } from '../format/id.js';
import type { BlobType } from '../pack/header.js';
import type { FinishedPack } from '../pack/packer.js';

export type WorkerRequest =
  | { id: 0; op: 'key'; key: MasterKey }
  | { id: number; op: 'hash'; data: Uint8Array }
  | { id: number; op: 'seal'; data: Uint8Array; level: CompressionLevelMode | null; type: BlobType }
  /** Many small blobs in one message: `data` holds them back to back, `lengths` says where they end. */
  | { id: number; op: 'sealBatch'; data: Uint8Array; lengths: number[]; levels: (CompressionLevelMode | null)[]; types: BlobType[] }
  | { id: number; op: 'verify'; pack: FinishedPack };

export type WorkerReply =
  | { id: number; ok: true; hash: Uint8Array; data: Uint8Array }
  | { id: number; ok: true; sealed: Uint8Array; compressed: boolean }
  /** The sealed blobs back to back; compressed[i] is 1 when blob i was compressed. */
  | { id: number; ok: true; sealedAll: Uint8Array; sizes: number[]; compressed: Uint8Array }
  | { id: number; ok: true; bytes: Uint8Array; packId: Id }
  | { id: number; ok: false; error: { message: string; code?: ErrorCode; file?: string } };

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: unknown) => void;
}

/** Default pool size: one worker per core beyond the main thread, at least one. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function ownsBuffer(u: Uint8Array): boolean {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && u.byteLength >= 64 * 1024 && !(u.buffer instanceof SharedArrayBuffer);
}

/**
 * Starts a worker thread. It gets the master key later, by message: workers can load (their
 * own isolate, modules, libsodium: ~0.3 s of CPU) while the repository key is still being
 * derived (scrypt, ~0.5 s on one core), so a backup does not wait for them afterwards.
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
export function prestartBlobWorkers(count = defaultWorkerCount()): void {
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

interface BatchItem {
  data: Uint8Array;
  level: CompressionLevelMode | null;
  type: BlobType;
  resolve: (r: { sealed: Uint8Array; compressed: boolean }) => void;
  reject: (e: unknown) => void;
}

export class BlobWorkerPool {
  private batch: BatchItem[] = [];
  private batchBytes = 0;
  private batchScheduled = false;
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: unknown;
  private closing = false;
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

  constructor(key: MasterKey, count = defaultWorkerCount()) {
    const readies: Promise<void>[] = [];
    this.warm = spareWorkers.length >= count;
    const plainKey: MasterKey = { encrypt: Uint8Array.from(key.encrypt), macK: Uint8Array.from(key.macK), macR: Uint8Array.from(key.macR) };
    for (let i = 0; i < count; i++) {
      const spare = spareWorkers.shift();
      if (spare) {
        spare.removeAllListeners('error');
        spare.removeAllListeners('exit');
        // Held while starting (a caller may be waiting for it); unref'd again once ready.
        spare.ref();
      }
      const worker = spare ?? spawnWorker();
      // The first message: a worker answers it with `ready` once it has loaded.
      worker.postMessage({ id: 0, op: 'key', key: plainKey } satisfies WorkerRequest);
      const slot = { worker, busy: 0 };
      let markReady!: () => void;
      let markFailed!: (e: unknown) => void;
      readies.push(
        new Promise<void>((resolve, reject) => {
          markReady = resolve;
          markFailed = reject;
        }),
      );
      worker.on('message', (msg: WorkerReply | { ready: true }) => {
        if ('ready' in msg) {
          markReady();
          // Held while starting (a caller may be waiting for it); idle from now on.
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
        this.fail(err);
      });
      worker.on('exit', (code) => {
        const err = new ResticError('FATAL', `blob worker thread exited with code ${code}`);
        markFailed(err);
        if (code !== 0 && !this.closing) this.fail(err);
      });
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
   * Compresses (when `level` is set) and seals. With `transfer`, a buffer that spans its whole
   * ArrayBuffer moves to the worker without a copy and is unusable afterwards.
   */
  async seal(data: Uint8Array, level: CompressionLevelMode | null, type: BlobType, transfer = false): Promise<{ sealed: Uint8Array; compressed: boolean }> {
    if (data.length <= BATCH_BLOB_MAX) {
      // Small: copied into the next batch (`data` stays usable; the copy is cheaper than a message).
      return new Promise((resolve, reject) => {
        this.batch.push({ data, level, type, resolve, reject });
        this.batchBytes += data.length;
        if (this.batch.length >= BATCH_COUNT || this.batchBytes >= BATCH_BYTES) this.sendBatch();
        else if (!this.batchScheduled) {
          this.batchScheduled = true;
          setImmediate(() => {
            this.batchScheduled = false;
            this.sendBatch();
          });
        }
      });
    }
    const transferList = transfer && ownsBuffer(data) ? [data.buffer as ArrayBuffer] : [];
    const r = await this.send({ id: this.nextId++, op: 'seal', data, level, type }, transferList);
    return r as { sealed: Uint8Array; compressed: boolean };
  }

  /** Sends the blobs collected so far as one `sealBatch` message. */
  private sendBatch(): void {
    const items = this.batch;
    if (items.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
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
        for (let i = 0; i < items.length; i++) {
          // Views into one buffer: it lives until the last of them is copied into its pack.
          items[i].resolve({ sealed: sealedAll.subarray(at, at + sizes[i]), compressed: compressed[i] === 1 });
          at += sizes[i];
        }
      },
      (err: unknown) => {
        for (const it of items) it.reject(err);
      },
    );
  }

  /**
   * SHA-256 of a buffer the caller owns (it must span its whole ArrayBuffer): the buffer moves
   * to a worker and comes back, without copies. Returns the hash and the returned buffer (use
   * it instead of `data`, which is detached). Keeps chunk hashing off the reading thread.
   */
  async hash(data: Uint8Array): Promise<{ id: Id; data: Uint8Array }> {
    if (!ownsBuffer(data)) throw new ResticError('FATAL', 'BlobWorkerPool.hash needs a buffer that owns its ArrayBuffer');
    const r = (await this.send({ id: this.nextId++, op: 'hash', data }, [data.buffer as ArrayBuffer])) as { hash: Uint8Array; data: Uint8Array };
    return { id: idFromBytes(r.hash), data: r.data };
  }

  /**
   * Names and verifies a finished pack in a worker (`pack.id` is set there: the pack's SHA-256
   * is computed from the very bytes that were verified); the bytes travel there and back
   * without copies.
   */
  async verify(pack: FinishedPack): Promise<void> {
    const transfer = ownsBuffer(pack.bytes) ? [pack.bytes.buffer as ArrayBuffer] : [];
    const r = (await this.send({ id: this.nextId++, op: 'verify', pack }, transfer)) as { bytes: Uint8Array; packId: Id };
    pack.bytes = r.bytes;
    pack.id = r.packId;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
