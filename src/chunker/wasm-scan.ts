/**
 * The chunker's body loop as a tiny WebAssembly function: with native 64-bit integers the
 * rolling hash is one shift, one or, two table loads and two xors per byte, where JavaScript
 * needs two int32 halves and twice the work (measured in docs/benchmarks.md, "Chunker").
 *
 * The module is assembled here from its instructions (about 120 bytes, no toolchain, nothing
 * fetched). It scans bytes that live in its own memory: a `WasmScanner` owns one memory with
 * the two 256-entry tables and a data region, and `ChunkAssembler` reads files straight into
 * that region, so nothing is copied to be scanned.
 *
 * Memory layout: [0, 8) the digest on return (little-endian u64), [1024, 3072) the reduction
 * table M, [3072, 5120) the outgoing-byte table O, data from DATA_OFFSET on.
 *
 * Per byte b at address i (the outgoing byte is the one 64 bytes back, in the same region):
 *   d = ((d << 8) | b) ^ M[d >> 45] ^ O[mem[i − 64]];  cut after i when (d & mask) == 0
 * which is `scanBody53` in chunker.ts with the two halves joined (degree-53 polynomials only,
 * the split mask within the low 32 bits: every restic repository).
 */
import type { ChunkerTables } from './tables.js';

const TABLE_M = 1024;
const TABLE_O = 3072;
/** Where the data region starts in the scanner's memory. */
export const DATA_OFFSET = 8192;
const PAGE = 65536;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
}

// Opcodes used below (WebAssembly core spec, binary format).
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I32_CONST = 0x41, I64_CONST = 0x42;
const I32_LOAD8_U = 0x2d, I64_LOAD = 0x29, I64_LOAD8_U = 0x31, I64_STORE = 0x37;
const I32_EQZ = 0x45, I32_GE_U = 0x4f, I32_ADD = 0x6a, I32_SUB = 0x6b, I32_AND = 0x71, I32_SHL = 0x74;
const I64_OR = 0x84, I64_XOR = 0x85, I64_SHL = 0x86, I64_SHR_U = 0x88, I32_WRAP_I64 = 0xa7, I64_EXTEND_I32_U = 0xad;
const LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, RETURN = 0x0f, UNREACHABLE = 0x00, VOID = 0x40;
const I32 = 0x7f, I64 = 0x7e;

// scan(i, end, hi, lo, mask) -> address after the cut, or -1; the digest is stored at [0, 8).
const P_I = 0, P_END = 1, P_HI = 2, P_LO = 3, P_MASK = 4, L_D = 5;

const storeDigest = [I32_CONST, 0, LOCAL_GET, L_D, I64_STORE, 3, 0];

const body = [
  ...[1, 1, I64], // one local: d (i64)
  // d = (u64(hi) << 32) | u64(lo)
  LOCAL_GET, P_HI, I64_EXTEND_I32_U, I64_CONST, 32, I64_SHL,
  LOCAL_GET, P_LO, I64_EXTEND_I32_U, I64_OR, LOCAL_SET, L_D,
  LOOP, VOID,
  // if (i >= end) { store d; return -1 }
  LOCAL_GET, P_I, LOCAL_GET, P_END, I32_GE_U,
  IF, VOID, ...storeDigest, I32_CONST, 0x7f, RETURN, END,
  // d = (((d << 8) | mem[i]) ^ O[mem[i - 64]]) ^ M[d >> 45]: the terms that do not depend on
  // d's top byte first, so the loop-carried chain is only shift, load, xor.
  LOCAL_GET, L_D, I64_CONST, 8, I64_SHL,
  LOCAL_GET, P_I, I64_LOAD8_U, 0, 0, I64_OR,
  LOCAL_GET, P_I, I32_CONST, 0xc0, 0x00, I32_SUB, I32_LOAD8_U, 0, 0, I32_CONST, 3, I32_SHL,
  I64_LOAD, 3, ...uleb(TABLE_O), I64_XOR,
  LOCAL_GET, L_D, I64_CONST, 45, I64_SHR_U, I32_WRAP_I64, I32_CONST, 3, I32_SHL,
  I64_LOAD, 3, ...uleb(TABLE_M), I64_XOR,
  LOCAL_SET, L_D,
  // i++
  LOCAL_GET, P_I, I32_CONST, 1, I32_ADD, LOCAL_SET, P_I,
  // if ((u32(d) & mask) == 0) { store d; return i }
  LOCAL_GET, L_D, I32_WRAP_I64, LOCAL_GET, P_MASK, I32_AND, I32_EQZ,
  IF, VOID, ...storeDigest, LOCAL_GET, P_I, RETURN, END,
  BR, 0,
  END,
  UNREACHABLE,
  END,
];

const moduleBytes = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 1, I32]),
  ...section(2, [1, ...name('env'), ...name('mem'), 0x02, 0x00, 1]),
  ...section(3, [1, 0]),
  ...section(7, [1, ...name('scan'), 0x00, 0]),
  ...section(10, [1, ...uleb(body.length), ...body]),
]);

/** The few WebAssembly JS-API members used here (the project's `lib` has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (mod: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasmApi ? new wasmApi.Module(moduleBytes) : null;
    } catch {
      compiled = null; // no WebAssembly here: the JavaScript loop does the work
    }
  }
  return compiled;
}

type ScanFn = (i: number, end: number, hi: number, lo: number, mask: number) => number;

/** One WebAssembly memory holding the chunker tables and a data region of a fixed size. */
export class WasmScanner {
  /** The data region: read or copy input here to scan it without a copy. */
  readonly data: Uint8Array;
  private readonly memory: WasmMemory;
  private readonly scanFn: ScanFn;
  private readonly digestOut: Int32Array;
  private tables?: ChunkerTables;

  private constructor(api: WasmApi, mod: object, dataSize: number) {
    const pages = Math.ceil((DATA_OFFSET + dataSize) / PAGE);
    this.memory = new api.Memory({ initial: pages, maximum: pages });
    const instance = new api.Instance(mod, { env: { mem: this.memory } });
    this.scanFn = instance.exports.scan as ScanFn;
    this.data = new Uint8Array(this.memory.buffer, DATA_OFFSET, dataSize);
    this.digestOut = new Int32Array(this.memory.buffer, 0, 2);
  }

  /** A scanner with `dataSize` bytes of data region, or undefined without WebAssembly. */
  static create(dataSize: number): WasmScanner | undefined {
    const mod = wasmModule();
    return mod && wasmApi ? new WasmScanner(wasmApi, mod, dataSize) : undefined;
  }

  /** Whether `buf` lies in this scanner's data region (so `scan` can read it in place). */
  holds(buf: Uint8Array): boolean {
    return buf.buffer === this.memory.buffer;
  }

  /** Loads the tables of a degree-53 polynomial (shift 0). */
  useTables(tables: ChunkerTables): void {
    if (this.tables === tables) return;
    const m = new DataView(this.memory.buffer);
    for (let b = 0; b < 256; b++) {
      // packed: [4b] out hi, [4b+1] out lo, [4b+2] mod hi, [4b+3] mod lo
      m.setInt32(TABLE_O + 8 * b, tables.packed[4 * b + 1], true);
      m.setInt32(TABLE_O + 8 * b + 4, tables.packed[4 * b], true);
      m.setInt32(TABLE_M + 8 * b, tables.packed[4 * b + 3], true);
      m.setInt32(TABLE_M + 8 * b + 4, tables.packed[4 * b + 2], true);
    }
    this.tables = tables;
  }

  /**
   * Scans buf[i, end) (buf in this scanner's memory, i ≥ 64) continuing `digest` ([hi, lo]);
   * returns the index after the cut or −1, and leaves the digest in `digest`.
   */
  scan(buf: Uint8Array, i: number, end: number, maskLo: number, digest: Int32Array): number {
    const base = buf.byteOffset;
    const cut = this.scanFn(base + i, base + end, digest[0], digest[1], maskLo);
    digest[0] = this.digestOut[1];
    digest[1] = this.digestOut[0];
    return cut < 0 ? -1 : cut - base;
  }
}
