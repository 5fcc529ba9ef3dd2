/**
 * Cuts a byte stream into restic's content-defined chunks with bounded memory.
 *
 * Data is read (or copied) into one reusable buffer of `maxSize + 4 MiB`; the chunker scans
 * only bytes it has not seen; every finished chunk is copied out once (it then lives until
 * its blob is sealed). The unfinished tail of a chunk is moved to the front of the buffer
 * when space runs out, so the buffer never grows.
 */
import type { FileHandle } from 'node:fs/promises';
import { Chunker, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../chunker/chunker.js';
import type { Polynomial } from '../chunker/polynomial.js';
import { WasmScanner } from '../chunker/wasm-scan.js';

export const READ_SIZE = 1024 * 1024;

/**
 * Spare buffers for chunks, by power-of-two capacity (a chunk is a view of the smallest spare
 * that holds it). Cutting each chunk into a fresh allocation cost the reading thread more than
 * the copy itself (page faults, GC); the blob saver gives buffers back once sealed or known.
 * Spares are kept up to `maxBytes` in all (16 MiB: the chunks of two files in flight, at
 * restic's average chunk size), so memory stays bounded.
 */
export class ChunkBufferPool {
  private readonly spares = new Map<number, ArrayBuffer[]>();
  private spareBytes = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  private static capacity(n: number): number {
    return Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
  }

  /** A view of exactly `n` bytes at the start of a spare (or new) buffer of its capacity class. */
  take(n: number): Uint8Array {
    const capacity = ChunkBufferPool.capacity(n);
    const spare = this.spares.get(capacity)?.pop();
    if (spare) this.spareBytes -= capacity;
    return new Uint8Array(spare ?? new ArrayBuffer(capacity), 0, n);
  }

  /** Takes back a buffer nobody uses any more (only capacities this pool hands out). */
  give(buffer: ArrayBuffer): void {
    const capacity = buffer.byteLength;
    if (capacity !== ChunkBufferPool.capacity(capacity)) return;
    if (this.spareBytes + capacity > this.maxBytes) return;
    let list = this.spares.get(capacity);
    if (!list) this.spares.set(capacity, (list = []));
    list.push(buffer);
    this.spareBytes += capacity;
  }
}

export class ChunkAssembler {
  private readonly chunker: Chunker;
  /** In a WebAssembly scanner's memory when there is one, so the chunker scans it in place. */
  private readonly buf: Uint8Array;
  private start = 0;
  private end = 0;
  private scanned = 0;

  /** With `buffers`, chunks are cut into its spare buffers instead of fresh allocations. */
  constructor(polynomial: Polynomial, chunker?: Chunker, private readonly buffers?: ChunkBufferPool) {
    this.chunker = chunker ?? new Chunker(polynomial);
    this.chunker.reset();
    const size = this.chunker.maxSize + 4 * READ_SIZE;
    const scanner = WasmScanner.create(size);
    this.buf = scanner && this.chunker.useWasm(scanner) ? scanner.data : new Uint8Array(size);
  }

  /** A region of at least `min` bytes to read into; pass the count read to `commit`. */
  space(min = READ_SIZE): Uint8Array {
    if (this.buf.length - this.end < min) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.scanned -= this.start;
      this.start = 0;
    }
    return this.buf.subarray(this.end);
  }

  /** Accounts `n` bytes written into `space()`; returns the chunks that are now complete. */
  commit(n: number): Uint8Array[] {
    this.end += n;
    const out: Uint8Array[] = [];
    while (this.scanned < this.end) {
      const cut = this.chunker.nextBoundary(this.buf, this.scanned, this.end);
      if (cut < 0) {
        this.scanned = this.end;
        break;
      }
      out.push(this.cut(this.start, cut));
      this.start = this.scanned = cut;
    }
    return out;
  }

  /** A chunk's own copy of buf[from, to). */
  private cut(from: number, to: number): Uint8Array {
    if (!this.buffers) return Uint8Array.prototype.slice.call(this.buf, from, to);
    const chunk = this.buffers.take(to - from);
    chunk.set(this.buf.subarray(from, to));
    return chunk;
  }

  /** Copies `data` in (in pieces that fit) and returns completed chunks. */
  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < data.length) {
      const n = Math.min(READ_SIZE, data.length - off);
      this.space(n).set(data.subarray(off, off + n));
      for (const c of this.commit(n)) out.push(c);
      off += n;
    }
    return out;
  }

  /** The last (possibly short) chunk, or null when nothing is left. Resets for the next stream. */
  finish(): Uint8Array | null {
    const rest = this.end > this.start ? this.cut(this.start, this.end) : null;
    this.start = this.end = this.scanned = 0;
    this.chunker.reset();
    return rest;
  }
}

/** Chunks of an async byte stream (stdin, a Node Readable, a generator). */
export async function* chunkStream(source: AsyncIterable<Uint8Array>, polynomial: Polynomial): AsyncGenerator<Uint8Array> {
  const asm = new ChunkAssembler(polynomial);
  for await (const data of source) yield* asm.push(data);
  const last = asm.finish();
  if (last) yield last;
}

/** Whole content of a buffer as chunks (copies not needed: subarrays of `data`). */
export function* chunkBytes(data: Uint8Array, polynomial: Polynomial): Generator<Uint8Array> {
  if (data.length <= MIN_CHUNK_SIZE) {
    if (data.length > 0) yield data;
    return;
  }
  const chunker = new Chunker(polynomial);
  let start = 0;
  while (start < data.length) {
    const cut = chunker.nextBoundary(data, start, data.length);
    if (cut < 0) {
      yield data.subarray(start);
      return;
    }
    yield data.subarray(start, cut);
    start = cut;
  }
}

/**
 * Chunks of an open file, read from its current position to EOF. Files no larger than the
 * minimum chunk size are one chunk and are read with a single buffer of their size.
 */
export async function* chunkFile(handle: FileHandle, sizeHint: number, polynomial: Polynomial, assembler?: () => ChunkAssembler): AsyncGenerator<Uint8Array> {
  if (sizeHint <= MIN_CHUNK_SIZE) {
    // One chunk, unless the file grew since stat: then fall through to the general path.
    // A buffer of its own (never a slice of Node's shared Buffer pool): chunks may move to a
    // worker thread or be recycled as a whole ArrayBuffer.
    const buf = new Uint8Array(sizeHint + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got <= sizeHint) {
      if (got > 0) yield new Uint8Array(buf.buffer, buf.byteOffset, got);
      return;
    }
    const asm = assembler ? assembler() : new ChunkAssembler(polynomial);
    yield* asm.push(buf.subarray(0, got));
    yield* readRest(handle, asm);
    return;
  }
  const asm = assembler ? assembler() : new ChunkAssembler(polynomial);
  yield* readRest(handle, asm);
}

async function* readRest(handle: FileHandle, asm: ChunkAssembler): AsyncGenerator<Uint8Array> {
  for (;;) {
    const space = asm.space(READ_SIZE);
    const { bytesRead } = await handle.read(space, 0, Math.min(space.length, 4 * READ_SIZE), null);
    if (bytesRead === 0) break;
    yield* asm.commit(bytesRead);
  }
  const last = asm.finish();
  if (last) yield last;
}

export { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE };
