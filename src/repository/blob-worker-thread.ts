/**
 * Worker-thread side of the blob pipeline: reads small files, hashes large chunks, compresses
 * and encrypts blobs, and names and verifies finished packs, off the main thread (which walks
 * the tree and reads and chunks large files).
 * Started by `BlobWorkerPool` (possibly before the repository is open); the master key
 * arrives as the first message, and the worker answers it with `ready`.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { CompressionLevelMode } from '../compression/index.js';
import { IV_SIZE, SEAL_OVERHEAD, createSha256, seal, sealInto, sha256Hex, type MasterKey } from '../crypto/index.js';
import { isResticError } from '../errors.js';
import { verifyPack, type FinishedPack } from '../pack/packer.js';
import { compressDataInto, compressIfSmaller } from './blob-compression.js';
import type { FileSealOutcome, WorkerReply, WorkerRequest } from './blob-worker.js';

let key: MasterKey | undefined;

/**
 * Reads a file expected to hold `size` bytes into `scratch` (at least `size + 1` bytes: one read
 * for the content, one byte more to see whether it grew since lstat). Returns a view of its
 * content in `scratch`, `grew`, or the error to report for it.
 */
function readSmallFile(latin1Path: string, size: number, scratch: Uint8Array): Uint8Array | Exclude<FileSealOutcome, { kind: 'sealed' }> {
  const path = Buffer.from(latin1Path, 'latin1'); // the path's exact bytes
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = scratch.subarray(0, size + 1);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got > size) return { kind: 'grew' };
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { kind: 'error', message: e.message, ...(e.code !== undefined ? { code: e.code } : {}), ...(e.errno !== undefined ? { errno: e.errno } : {}), ...(e.syscall !== undefined ? { syscall: e.syscall } : {}) };
  }
}

/**
 * Read buffers for small files, one per batch in progress (batches interleave only when
 * compression is asynchronous), kept for the next batches: a new zeroed buffer per file cost an
 * allocation and a clear of every file's size.
 */
const scratchPool: Uint8Array[] = [];

function takeScratch(size: number): Uint8Array {
  const found = scratchPool.pop();
  return found && found.length >= size ? found : new Uint8Array(Math.max(size, 64 * 1024));
}

/** Lets queued messages (small-file batches) run before the caller goes on. */
function letOthersIn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** SHA-256 of `bytes` as a hex ID, 1 MiB at a time with `letOthersIn` in between. */
async function hashInSlices(bytes: Uint8Array): Promise<string> {
  const SLICE = 1024 * 1024;
  if (bytes.length <= SLICE) return sha256Hex(bytes);
  const hasher = createSha256();
  for (let at = 0; at < bytes.length; at += SLICE) {
    hasher.update(bytes.subarray(at, Math.min(bytes.length, at + SLICE)));
    await letOthersIn();
  }
  return Buffer.from(hasher.digest()).toString('hex');
}

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

function wholeBuffer(u: Uint8Array): ArrayBuffer[] {
  return u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? [u.buffer as ArrayBuffer] : [];
}

/** Seals payloads back to back into one new buffer (no per-blob allocation or copy). */
function sealAllInto(payloads: Uint8Array[], key: MasterKey): { sealedAll: Uint8Array; sizes: number[] } {
  const sizes = payloads.map((p) => p.length + SEAL_OVERHEAD);
  const sealedAll = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
  for (let i = 0, at = 0; i < payloads.length; i++) {
    sealInto(key, payloads[i], sealedAll, at);
    at += sizes[i];
  }
  return { sealedAll, sizes };
}

async function handle(req: Exclude<WorkerRequest, { op: 'key' }>, key: MasterKey): Promise<void> {
  switch (req.op) {
    case 'hash':
      // The data may be a view of a larger buffer the caller owns: it goes back whole.
      reply({ id: req.id, ok: true, blobId: sha256Hex(req.data), data: req.data }, [req.data.buffer as ArrayBuffer]);
      return;
    case 'seal': {
      const { payload, compressed } = await compressIfSmaller(req.data, req.level as CompressionLevelMode | null, req.type);
      const sealed = seal(key, payload);
      // The pool always moves a single blob's buffer here (given up, or a fresh copy): it goes
      // back for reuse, since seal copied the plaintext.
      const returned = req.data.buffer as ArrayBuffer;
      reply({ id: req.id, ok: true, sealed, compressed, returned }, [...wholeBuffer(sealed), returned]);
      return;
    }
    case 'sealBatch': {
      // Compress all at once: an asynchronous compressor runs them side by side on the thread
      // pool instead of one round trip after another.
      const blobs: Uint8Array[] = [];
      for (let i = 0, at = 0; i < req.lengths.length; i++) {
        blobs.push(req.data.subarray(at, at + req.lengths[i]));
        at += req.lengths[i];
      }
      const payloads = await Promise.all(blobs.map((blob, i) => compressIfSmaller(blob, req.levels[i] as CompressionLevelMode | null, req.types[i])));
      const compressed = Uint8Array.from(payloads, (p) => (p.compressed ? 1 : 0));
      const { sealedAll, sizes } = sealAllInto(payloads.map((p) => p.payload), key);
      reply({ id: req.id, ok: true, sealedAll, sizes, compressed }, [sealedAll.buffer as ArrayBuffer]);
      return;
    }
    case 'fileBatch': {
      // Each file is read into one scratch buffer and sealed straight into the batch's output,
      // which has room for every file at its lstat size (a file that grew is not sealed here;
      // a stored blob is never larger than its file plus the seal): no buffer per file.
      const largest = req.sizes.reduce((a, b) => Math.max(a, b), 0);
      const scratch = takeScratch(largest + 1);
      const sealedAll = new Uint8Array(req.sizes.reduce((a, b) => a + b + SEAL_OVERHEAD, 0));
      const outcomes: FileSealOutcome[] = [];
      let at = 0;
      try {
        for (let i = 0; i < req.paths.length; i++) {
          const read = readSmallFile(req.paths[i], req.sizes[i], scratch);
          if (!(read instanceof Uint8Array)) {
            outcomes.push(read);
            continue;
          }
          const blobId = sha256Hex(read);
          // Compressed straight into its place in the reply and sealed there when the addon can;
          // stored as read otherwise (sealInto then encrypts from `read`).
          const payloadAt = at + IV_SIZE;
          const direct = compressDataInto(read, req.level, sealedAll, payloadAt);
          const { payload, compressed } = direct
            ? { payload: direct.compressed ? sealedAll.subarray(payloadAt, payloadAt + direct.length) : read, compressed: direct.compressed }
            : await compressIfSmaller(read, req.level, 'data');
          sealInto(key, payload, sealedAll, at);
          at += payload.length + SEAL_OVERHEAD;
          outcomes.push({ kind: 'sealed', blobId, length: read.length, sealedSize: payload.length + SEAL_OVERHEAD, compressed });
        }
      } finally {
        scratchPool.push(scratch);
      }
      // The blobs wait in the main thread's open pack until it is written: a batch that
      // compressed well goes back in a buffer of its own size rather than holding the room.
      const used = at >= sealedAll.length * 0.75 ? sealedAll.subarray(0, at) : sealedAll.slice(0, at);
      reply({ id: req.id, ok: true, files: outcomes, sealedAll: used }, [used.buffer as ArrayBuffer]);
      return;
    }
    case 'verify': {
      // Verifying a 16 MiB pack takes tens of milliseconds; in slices, with small-file batches
      // let in between, the walking thread gets its replies instead of waiting for the pack.
      const pack: FinishedPack = req.pack;
      pack.id = await hashInSlices(pack.bytes);
      await verifyPack(key, pack, { pause: letOthersIn });
      // The pack may be a view of a larger reused buffer: it goes back whole, never copied.
      reply({ id: req.id, ok: true, bytes: pack.bytes, packId: pack.id }, [pack.bytes.buffer as ArrayBuffer]);
      return;
    }
  }
}

parentPort!.on('message', (req: WorkerRequest) => {
  if (req.op === 'key') {
    key = req.key;
    // Only now does the pool hand over (transfer) any buffer.
    parentPort!.postMessage({ ready: true });
    return;
  }
  void (async () => {
    try {
      if (!key) throw new Error('blob worker: no key received');
      await handle(req, key);
    } catch (err) {
      const e = err as Error;
      reply({ id: req.id, ok: false, error: { message: e.message, code: isResticError(err) ? err.code : undefined, file: isResticError(err) ? err.file : undefined } });
    }
  })();
});
