/**
 * Worker-thread side of the blob pipeline: compresses and encrypts blobs, and verifies
 * finished packs, off the main thread (which reads, chunks and hashes). Started by
 * `BlobWorkerPool`; the master key arrives in `workerData`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CompressionLevelMode } from '../compression/index.js';
import { seal, type MasterKey } from '../crypto/index.js';
import { isResticError } from '../errors.js';
import { verifyPack, type FinishedPack } from '../pack/packer.js';
import { compressIfSmaller } from './blob-saver.js';
import type { WorkerReply, WorkerRequest } from './blob-worker.js';

const key = (workerData as { key: MasterKey }).key;

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

// Tell the pool we loaded: only then does it hand over (transfer) any buffer.
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (req: WorkerRequest) => {
  void (async () => {
    try {
      if (req.op === 'seal') {
        const { payload, compressed } = await compressIfSmaller(req.data, req.level as CompressionLevelMode | null, req.type);
        const sealed = seal(key, payload);
        reply({ id: req.id, ok: true, sealed, compressed }, sealed.byteOffset === 0 && sealed.byteLength === sealed.buffer.byteLength ? [sealed.buffer as ArrayBuffer] : []);
      } else {
        const pack: FinishedPack = req.pack;
        await verifyPack(key, pack);
        reply({ id: req.id, ok: true, bytes: pack.bytes }, [pack.bytes.buffer as ArrayBuffer]);
      }
    } catch (err) {
      const e = err as Error;
      reply({ id: req.id, ok: false, error: { message: e.message, code: isResticError(err) ? err.code : undefined, file: isResticError(err) ? err.file : undefined } });
    }
  })();
});
