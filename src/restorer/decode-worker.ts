/**
 * Worker threads that decode restore's blob runs (MAC check, AES-CTR, zstd, SHA-256), so a
 * restore uses more than one core: the main thread reads packs and writes files, the workers
 * do the cryptography. One message per run (the run's bytes are transferred, not copied).
 * When started from TypeScript sources (tsx, vitest) the worker registers tsx first.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decompress } from '../compression/index.js';
import { open, sha256, type MasterKey } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';

export interface DecodeRequest {
  id: number;
  /** For error messages: `data/xx/<pack>`. */
  what: string;
  bytes: Uint8Array;
  blobs: { id: Id; start: number; length: number; uncompressedLength: number }[];
}

export interface DecodeReply {
  id: number;
  /** One per requested blob; null when that blob failed its checks. */
  plaintexts: (Uint8Array | null)[];
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Decodes one sealed data blob as Repository.loadBlob does; CORRUPT / MAC_FAILED naming it. */
export async function decodeRunBlob(key: MasterKey, sealed: Uint8Array, id: Id, uncompressedLength: number, file: string): Promise<Uint8Array> {
  const what = `${file}: data blob ${id}`;
  let plaintext = open(key, sealed, what);
  if (uncompressedLength !== 0) {
    plaintext = await decompress(plaintext, uncompressedLength, what);
    if (plaintext.length !== uncompressedLength) {
      throw new ResticError('CORRUPT', `${what}: decompressed to ${plaintext.length} bytes, index says ${uncompressedLength}`, { file });
    }
  }
  if (hex(sha256(plaintext)) !== id) throw new ResticError('CORRUPT', `${what}: content hash does not match`, { file });
  return plaintext;
}

/** Decoding workers to start: one per core (the main thread mostly waits on I/O). */
export function defaultDecodeWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function spawnWorker(key: MasterKey): Worker {
  const here = import.meta.url;
  const isTs = here.endsWith('.ts');
  const entry = new URL(isTs ? './decode-worker-thread.ts' : './decode-worker-thread.js', here);
  if (!isTs) return new Worker(fileURLToPath(entry), { workerData: { key } });
  const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  const code = `(async () => { const { register } = await import(${JSON.stringify(tsxApi)}); register(); await import(${JSON.stringify(entry.href)}); })().catch((e) => { console.error(e); process.exit(1); });`;
  return new Worker(code, { eval: true, workerData: { key } });
}

export class DecodeWorkerPool {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeReply) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private failure: unknown;
  private closing = false;

  constructor(key: MasterKey, count = defaultDecodeWorkers()) {
    const plainKey: MasterKey = { encrypt: Uint8Array.from(key.encrypt), macK: Uint8Array.from(key.macK), macR: Uint8Array.from(key.macR) };
    for (let i = 0; i < count; i++) {
      const worker = spawnWorker(plainKey);
      const slot = { worker, busy: 0 };
      worker.on('message', (msg: DecodeReply) => {
        if (--slot.busy === 0) worker.unref();
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.resolve(msg);
      });
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (code !== 0 && !this.closing) this.fail(new ResticError('FATAL', `decode worker thread exited with code ${code}`));
      });
      worker.unref();
      this.workers.push(slot);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(err: unknown): void {
    if (this.failure === undefined) this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Decodes the blobs of one run; `bytes` is transferred to the worker (unusable afterwards). */
  decode(req: Omit<DecodeRequest, 'id'>): Promise<DecodeReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    let best = this.workers[0];
    for (const w of this.workers) if (w.busy < best.busy) best = w;
    if (best.busy++ === 0) best.worker.ref();
    const owns = req.bytes.byteOffset === 0 && req.bytes.byteLength === req.bytes.buffer.byteLength && !(req.bytes.buffer instanceof SharedArrayBuffer);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      best.worker.postMessage({ ...req, id }, owns ? [req.bytes.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
