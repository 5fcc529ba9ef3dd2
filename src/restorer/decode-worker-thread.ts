/**
 * Worker-thread side of restore's blob decoding: receives one run of sealed blobs (one range
 * read from a pack), checks each blob's MAC, decrypts, decompresses and compares its SHA-256
 * with the blob ID, and sends the plaintexts back (transferred, not copied). A blob that fails
 * comes back as `null`; the main thread then retries it through Repository.loadBlob, which
 * tries other copies and names the pack in its error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MasterKey } from '../crypto/index.js';
import { decodeRunBlob, type DecodeReply, type DecodeRequest } from './decode-worker.js';

const key = (workerData as { key: MasterKey }).key;

parentPort!.on('message', (req: DecodeRequest) => {
  void (async () => {
    const plaintexts: (Uint8Array | null)[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const blob of req.blobs) {
      try {
        const p = await decodeRunBlob(key, req.bytes.subarray(blob.start, blob.start + blob.length), blob.id, blob.uncompressedLength, req.what);
        plaintexts.push(p);
        if (p.byteOffset === 0 && p.byteLength === p.buffer.byteLength && !transfer.includes(p.buffer as ArrayBuffer)) transfer.push(p.buffer as ArrayBuffer);
      } catch {
        plaintexts.push(null);
      }
    }
    const reply: DecodeReply = { id: req.id, plaintexts };
    parentPort!.postMessage(reply, transfer);
  })();
});
