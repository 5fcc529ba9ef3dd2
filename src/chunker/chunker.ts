/**
 * Content-defined chunking identical to restic/chunker (restic-format.md §11): a Rabin
 * fingerprint over a 64-byte window, cut where the low `averageBits` bits of the fingerprint
 * are zero, with chunks between 512 KiB and 8 MiB.
 *
 * Speed notes (this is the hottest loop of a backup):
 * - the 53-bit digest lives in two int32 locals (hi = bits 32..52, lo = bits 0..31), no BigInt;
 * - the outgoing window byte is read from the input 64 bytes back, not from a ring buffer; a
 *   64-byte history ring is only consulted for the first 64 bytes of each call and of each chunk;
 * - the first `minSize − 64` bytes of every chunk are skipped without hashing, exactly as
 *   restic does (they cannot influence the cut: the window is full again by `minSize`);
 * - the max-size limit bounds the loop instead of being tested per byte.
 */
import { chunkerTables, WINDOW_SIZE, type ChunkerTables } from './tables.js';
import type { Polynomial } from './polynomial.js';
import type { WasmScanner } from './wasm-scan.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** restic's defaults (restic/chunker `MinSize`, `MaxSize`, 20 average bits). */
export const MIN_CHUNK_SIZE = 512 * KiB;
export const MAX_CHUNK_SIZE = 8 * MiB;
export const AVERAGE_BITS = 20;

export interface ChunkerOptions {
  /** Smallest chunk (except a file's last). Default 512 KiB; must be ≥ 64. */
  minSize?: number;
  /** Largest chunk. Default 8 MiB. */
  maxSize?: number;
  /** Cut where this many low fingerprint bits are zero (restic/chunker `WithAverageBits`). Default 20. */
  averageBits?: number;
}

/** One chunk of an in-memory buffer. */
export interface ChunkBoundary {
  offset: number;
  length: number;
  /**
   * The fingerprint at the cut (low `averageBits` bits zero), as restic/chunker reports it.
   * For a final chunk that ended with the input it is the running digest (1 when the chunk was
   * too short to hash anything) — restic never stores it.
   */
  cut: number;
}

const TWO_32 = 0x1_0000_0000;

/**
 * The low-level incremental chunker. Feed consecutive pieces of one file through
 * `nextBoundary`; the state carries over between calls, so boundaries do not depend on how
 * the input is split. Call `reset()` before the next file.
 */
export class Chunker {
  readonly polynomial: Polynomial;
  readonly minSize: number;
  readonly maxSize: number;
  readonly averageBits: number;

  private readonly tables: ChunkerTables;
  private readonly skipEnd: number;
  private readonly maskHi: number;
  private readonly maskLo: number;

  /** Bytes of the current chunk consumed so far. */
  private pos = 0;
  /** The running digest as [hi, lo] (scaled, see tables.ts). */
  private readonly state = new Int32Array(2);
  /** hist[p & 63] = the byte hashed at chunk position p − 64 (or the reset seed). */
  private readonly hist = new Uint8Array(WINDOW_SIZE);
  private lastCutValue = 0;
  /** Scans input that lives in its memory with 64-bit WebAssembly (see wasm-scan.ts). */
  private wasm?: WasmScanner;

  constructor(polynomial: Polynomial, options: ChunkerOptions = {}) {
    const minSize = options.minSize ?? MIN_CHUNK_SIZE;
    const maxSize = options.maxSize ?? MAX_CHUNK_SIZE;
    const averageBits = options.averageBits ?? AVERAGE_BITS;
    if (!Number.isSafeInteger(minSize) || minSize < WINDOW_SIZE) throw new RangeError(`chunker minSize ${minSize} must be an integer ≥ ${WINDOW_SIZE}`);
    if (!Number.isSafeInteger(maxSize) || maxSize < minSize) throw new RangeError(`chunker maxSize ${maxSize} must be an integer ≥ minSize ${minSize}`);
    this.tables = chunkerTables(polynomial);
    const s = this.tables.shift;
    if (!Number.isInteger(averageBits) || averageBits < 1 || averageBits + s > 53) {
      throw new RangeError(`chunker averageBits ${averageBits} must be 1..${53 - s}`);
    }
    this.polynomial = polynomial;
    this.minSize = minSize;
    this.maxSize = maxSize;
    this.averageBits = averageBits;
    this.skipEnd = minSize - WINDOW_SIZE;
    // Split mask, scaled like the digest (see tables.ts), as two halves.
    const mask = (2 ** averageBits - 1) * 2 ** s;
    this.maskHi = Math.floor(mask / TWO_32) | 0;
    this.maskLo = mask % TWO_32 | 0;
    this.reset();
  }

  /**
   * Starts a new chunk, as restic does at the start of a file and after each cut: the window
   * holds a single seed byte 1 (digest 1), which leaves the window exactly when the chunk
   * reaches `minSize`.
   */
  reset(): void {
    this.pos = 0;
    this.state[0] = 0;
    this.state[1] = 1 << this.tables.shift;
    this.hist.fill(0);
    this.hist[(this.minSize - 1) & (WINDOW_SIZE - 1)] = 1;
  }

  /**
   * Lets `scanner` do the body scan for input inside its data region (degree-53 polynomials
   * with the split mask in the low half, i.e. every restic repository; others keep the
   * JavaScript loops). Returns whether it will be used.
   */
  useWasm(scanner: WasmScanner): boolean {
    if (this.tables.shift !== 0 || this.maskHi !== 0) return false;
    scanner.useTables(this.tables);
    this.wasm = scanner;
    return true;
  }

  /** Bytes of the current (unfinished) chunk consumed so far. */
  get pending(): number {
    return this.pos;
  }

  /** Fingerprint at the most recent boundary `nextBoundary` returned (restic's `Cut`). */
  get lastCut(): number {
    return this.lastCutValue;
  }

  /** The running digest (what restic reports as `Cut` for a final, uncut chunk). */
  get digest(): number {
    return unscale(this.state[0], this.state[1], this.tables.shift);
  }

  /**
   * Scans `buf[start, end)` as the continuation of the current chunk. Returns the index just
   * past the chunk's last byte if the chunk ends inside that range (the chunker is then reset,
   * so call again from the returned index), or −1 when all of it belongs to the current chunk.
   */
  nextBoundary(buf: Uint8Array, start = 0, end = buf.length): number {
    if (start < 0 || end > buf.length || start > end) throw new RangeError(`range [${start}, ${end}) outside buffer of ${buf.length}`);
    let i = start;
    let pos = this.pos;
    // 1. Skip region: part of the chunk, never hashed.
    if (pos < this.skipEnd) {
      const skip = Math.min(end - i, this.skipEnd - pos);
      i += skip;
      pos += skip;
      if (i === end) {
        this.pos = pos;
        return -1;
      }
    }
    const hashFrom = i;
    // The chunk must end by maxSize: scanning stops there.
    const scanEnd = Math.min(end, i + (this.maxSize - pos));
    const digest = this.state;
    // 2. Head: the outgoing byte is not in this buffer (first 64 bytes of the call) or is the
    //    reset seed (chunk positions before minSize): take it from the history ring.
    const headEnd = Math.min(scanEnd, Math.max(start + WINDOW_SIZE, i + (this.minSize - pos)));
    let cutAt = scanHead(buf, i, headEnd, (pos - i) | 0, i + (this.minSize - pos) - 1, this.hist, this.tables.packed, this.tables.shift, this.maskHi, this.maskLo, digest);
    // 3. Body: the outgoing byte is read straight from the input.
    if (cutAt < 0 && headEnd < scanEnd) {
      const wasm = this.wasm;
      cutAt =
        wasm !== undefined && wasm.holds(buf)
          ? wasm.scan(buf, headEnd, scanEnd, this.maskLo, digest)
          : this.tables.shift === 0 && this.maskHi === 0
            ? scanBody53(buf, headEnd, scanEnd, this.tables.packed, this.maskLo, digest)
            : scanBody(buf, headEnd, scanEnd, this.tables.packed, this.tables.shift, this.maskHi, this.maskLo, digest);
    }
    // Reached maxSize: at scanEnd when that is short of `end`, or exactly at `end`.
    if (cutAt < 0 && (scanEnd < end || pos + (scanEnd - hashFrom) === this.maxSize)) cutAt = scanEnd;
    if (cutAt >= 0) {
      this.lastCutValue = unscale(digest[0], digest[1], this.tables.shift);
      this.reset();
      return cutAt;
    }
    // No boundary: everything up to `end` joins the chunk. Remember the last 64 hashed bytes.
    const endPos = pos + (end - hashFrom);
    const hist = this.hist;
    for (let j = Math.max(hashFrom, end - WINDOW_SIZE); j < end; j++) {
      hist[(endPos - (end - j)) & (WINDOW_SIZE - 1)] = buf[j];
    }
    this.pos = endPos;
    return -1;
  }
}

function unscale(hi: number, lo: number, shift: number): number {
  return (hi * TWO_32 + (lo >>> 0)) / 2 ** shift;
}

/*
 * The two scanning loops are separate small functions so V8 optimises them on their own,
 * with stable int32 types (a single big method deoptimised on its rarely taken paths and lost
 * more than half its speed). The digest halves travel in `digest` (Int32Array [hi, lo]).
 * Each step (restic-format.md §11.5, rearranged as tables.ts explains): shift in the new byte,
 * reduce the 8 bits pushed above bit 52 with one table entry (whose hi half also cancels them),
 * and remove the outgoing byte with another.
 */

/**
 * Hashes buf[i, end) taking outgoing bytes from the history ring (hist[p & 63], p = chunk
 * position = index + posOffset) and testing for a cut only from index `testFrom` on.
 * Returns the index after the cut, or −1.
 */
function scanHead(
  buf: Uint8Array, i: number, end: number, posOffset: number, testFrom: number,
  hist: Uint8Array, packed: Int32Array, s: number, maskHi: number, maskLo: number, digest: Int32Array,
): number {
  let hi = digest[0];
  let lo = digest[1];
  let cutAt = -1;
  for (; i < end; i++) {
    const b = buf[i];
    const h = (i + posOffset) & (WINDOW_SIZE - 1);
    const o = hist[h] << 2;
    hist[h] = b;
    const t = (hi >>> 13) << 2;
    hi = ((hi << 8) | (lo >>> 24)) ^ packed[t + 2] ^ packed[o];
    lo = ((lo << 8) | (b << s)) ^ packed[t + 3] ^ packed[o + 1];
    if ((lo & maskLo) === 0 && (hi & maskHi) === 0 && i >= testFrom) {
      cutAt = i + 1;
      break;
    }
  }
  digest[0] = hi;
  digest[1] = lo;
  return cutAt;
}

/** Hashes buf[i, end) with outgoing bytes at buf[i − 64]; every position may cut. */
function scanBody(
  buf: Uint8Array, i: number, end: number,
  packed: Int32Array, s: number, maskHi: number, maskLo: number, digest: Int32Array,
): number {
  let hi = digest[0];
  let lo = digest[1];
  let cutAt = -1;
  for (; i < end; i++) {
    const o = buf[i - WINDOW_SIZE] << 2;
    const t = (hi >>> 13) << 2;
    hi = ((hi << 8) | (lo >>> 24)) ^ packed[t + 2] ^ packed[o];
    lo = ((lo << 8) | (buf[i] << s)) ^ packed[t + 3] ^ packed[o + 1];
    if ((lo & maskLo) === 0 && (hi & maskHi) === 0) {
      cutAt = i + 1;
      break;
    }
  }
  digest[0] = hi;
  digest[1] = lo;
  return cutAt;
}

/**
 * `scanBody` for the case every restic repository has: degree 53 (no scaling) and a split mask
 * within the low half. Same steps, two operations fewer per byte.
 */
function scanBody53(buf: Uint8Array, i: number, end: number, packed: Int32Array, maskLo: number, digest: Int32Array): number {
  let hi = digest[0];
  let lo = digest[1];
  let cutAt = -1;
  for (; i < end; i++) {
    const o = buf[i - WINDOW_SIZE] << 2;
    const t = (hi >>> 13) << 2;
    hi = ((hi << 8) | (lo >>> 24)) ^ packed[t + 2] ^ packed[o];
    lo = ((lo << 8) | buf[i]) ^ packed[t + 3] ^ packed[o + 1];
    if ((lo & maskLo) === 0) {
      cutAt = i + 1;
      break;
    }
  }
  digest[0] = hi;
  digest[1] = lo;
  return cutAt;
}
/** Boundaries of one in-memory file (the whole buffer is one file). Empty input → no chunks. */
export function chunkBuffer(buf: Uint8Array, polynomial: Polynomial, options: ChunkerOptions = {}): ChunkBoundary[] {
  const chunker = new Chunker(polynomial, options);
  const out: ChunkBoundary[] = [];
  let start = 0;
  while (start < buf.length) {
    const cut = chunker.nextBoundary(buf, start, buf.length);
    if (cut < 0) {
      out.push({ offset: start, length: buf.length - start, cut: chunker.digest });
      break;
    }
    out.push({ offset: start, length: cut - start, cut: chunker.lastCut });
    start = cut;
  }
  return out;
}
