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
 * Memory layout: [0, 8) the digest on return (little-endian u64); five 256-entry u64 tables:
 * M at 1024, O at 3072, A at 5120, B at 7168, O8 at 9216; data from DATA_OFFSET on.
 *
 * One byte b at address i (the outgoing byte is the one 64 bytes back, in the same region):
 *   d1 = ((d << 8) | b) ^ O[mem[i − 64]] ^ M[d >> 45]
 * which is `scanBody53` in chunker.ts with the two halves joined (degree-53 polynomials only,
 * the split mask within the low 32 bits: every restic repository). Each step waits for the
 * table entry chosen by the previous step's top byte, so the loop is latency-bound. The loop
 * therefore also computes two bytes ahead straight from d (everything is linear over GF(2)):
 *   d2 = (((d mod 2^37) << 16) | (b1 << 8) | b2) ^ A[(d >> 37) & 255] ^ B[d >> 45]
 *        ^ O8[mem[i − 64]] ^ O[mem[i − 63]]
 * with A[v] = v·x^53 mod P, B[v] = v·x^61 mod P and O8[o] = O[o]·x^8 mod P; d1 is still computed
 * (off the dependency chain) to test for a cut after the first of the two bytes.
 */
import { polMod } from './polynomial.js';
import type { ChunkerTables } from './tables.js';

const TABLE_M = 1024;
const TABLE_O = 3072;
const TABLE_A = 5120;
const TABLE_B = 7168;
const TABLE_O8 = 9216;
/** Where the data region starts in the scanner's memory. */
export const DATA_OFFSET = 16384;
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

/** Signed LEB128 of a 64-bit constant. */
function sleb64(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
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
const I64_AND = 0x83;
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, RETURN = 0x0f, VOID = 0x40;
const I32 = 0x7f, I64 = 0x7e;

// scan(i, end, hi, lo, mask) -> address after the cut, or -1; the digest is stored at [0, 8).
const P_I = 0, P_END = 1, P_HI = 2, P_LO = 3, P_MASK = 4;
const L_D = 5, L_D1 = 6, L_D2 = 7, L_B1 = 8, L_O1 = 9, L_TOP = 10;

const storeDigest = (local: number) => [I32_CONST, 0, LOCAL_GET, local, I64_STORE, 3, 0];
/** `if ((u32(local) & mask) == 0) { store local; return i + plus }` */
const cutIfZero = (local: number, plus: number) => [
  LOCAL_GET, local, I32_WRAP_I64, LOCAL_GET, P_MASK, I32_AND, I32_EQZ,
  IF, VOID, ...storeDigest(local), LOCAL_GET, P_I, ...(plus ? [I32_CONST, plus, I32_ADD] : []), RETURN, END,
];
/** d1 = ((d << 8) | b1) ^ O[o1] ^ M[top], with b1, o1 (×8) and top (×8) in their locals. */
const oneStep = [
  LOCAL_GET, L_D, I64_CONST, 8, I64_SHL, LOCAL_GET, L_B1, I64_OR,
  LOCAL_GET, L_O1, I64_LOAD, 3, ...uleb(TABLE_O), I64_XOR,
  LOCAL_GET, L_TOP, I64_LOAD, 3, ...uleb(TABLE_M), I64_XOR,
  LOCAL_SET, L_D1,
];
/** b1 = mem[i]; o1 = mem[i − 64] × 8; top = (d >> 45) × 8 */
const loadStepInputs = [
  LOCAL_GET, P_I, I64_LOAD8_U, 0, 0, LOCAL_SET, L_B1,
  LOCAL_GET, P_I, I32_CONST, 0xc0, 0x00, I32_SUB, I32_LOAD8_U, 0, 0, I32_CONST, 3, I32_SHL, LOCAL_SET, L_O1,
  LOCAL_GET, L_D, I64_CONST, 45, I64_SHR_U, I32_WRAP_I64, I32_CONST, 3, I32_SHL, LOCAL_SET, L_TOP,
];

const body = [
  ...[2, 4, I64, 2, I32], // locals: d, d1, d2, b1 (i64); o1, top (i32)
  // d = (u64(hi) << 32) | u64(lo)
  LOCAL_GET, P_HI, I64_EXTEND_I32_U, I64_CONST, 32, I64_SHL,
  LOCAL_GET, P_LO, I64_EXTEND_I32_U, I64_OR, LOCAL_SET, L_D,
  BLOCK, VOID,
  LOOP, VOID,
  // two bytes left at least, else leave for the tail
  LOCAL_GET, P_I, I32_CONST, 1, I32_ADD, LOCAL_GET, P_END, I32_GE_U, BR_IF, 1,
  ...loadStepInputs,
  ...oneStep,
  // d2 = (((d & (2^37 − 1)) << 16) | (b1 << 8) | mem[i + 1]) ^ O8[o1] ^ O[mem[i − 63]] ^ A[(d >> 37) & 255] ^ B[top]
  LOCAL_GET, L_D, I64_CONST, ...sleb64((1n << 37n) - 1n), I64_AND, I64_CONST, 16, I64_SHL,
  LOCAL_GET, L_B1, I64_CONST, 8, I64_SHL, I64_OR,
  LOCAL_GET, P_I, I64_LOAD8_U, 0, 1, I64_OR,
  LOCAL_GET, L_O1, I64_LOAD, 3, ...uleb(TABLE_O8), I64_XOR,
  LOCAL_GET, P_I, I32_CONST, 63, I32_SUB, I32_LOAD8_U, 0, 0, I32_CONST, 3, I32_SHL, I64_LOAD, 3, ...uleb(TABLE_O), I64_XOR,
  LOCAL_GET, L_D, I64_CONST, 34, I64_SHR_U, I32_WRAP_I64, I32_CONST, ...sleb64(0x7f8n), I32_AND, I64_LOAD, 3, ...uleb(TABLE_A), I64_XOR,
  LOCAL_GET, L_TOP, I64_LOAD, 3, ...uleb(TABLE_B), I64_XOR,
  LOCAL_SET, L_D2,
  // a cut after the first byte wins
  ...cutIfZero(L_D1, 1),
  LOCAL_GET, L_D2, LOCAL_SET, L_D,
  LOCAL_GET, P_I, I32_CONST, 2, I32_ADD, LOCAL_SET, P_I,
  ...cutIfZero(L_D, 0),
  BR, 0,
  END, // loop
  END, // block
  // tail: one byte may be left
  LOCAL_GET, P_I, LOCAL_GET, P_END, I32_GE_U,
  IF, VOID, ...storeDigest(L_D), I32_CONST, 0x7f, RETURN, END,
  ...loadStepInputs,
  ...oneStep,
  LOCAL_GET, P_I, I32_CONST, 1, I32_ADD, LOCAL_SET, P_I,
  ...cutIfZero(L_D1, 0),
  ...storeDigest(L_D1),
  I32_CONST, 0x7f,
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
    const put = (at: number, v: bigint) => m.setBigUint64(at, v, true);
    const u64 = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    const low53 = (1n << 53n) - 1n;
    const A: bigint[] = [];
    for (let v = 0; v < 256; v++) {
      // packed: [4v] out hi, [4v+1] out lo, [4v+2] mod hi, [4v+3] mod lo
      const mod = u64(tables.packed[4 * v + 2], tables.packed[4 * v + 3]);
      put(TABLE_O + 8 * v, u64(tables.packed[4 * v], tables.packed[4 * v + 1]));
      put(TABLE_M + 8 * v, mod);
      // M[v] cancels the byte shifted above bit 52 and adds its reduction: A[v] is the reduction alone.
      A.push(mod ^ (BigInt(v) << 53n));
      put(TABLE_A + 8 * v, A[v]);
    }
    // B[v] = v·x^61 mod P, linear in v: eight reductions, XORed together for the rest.
    const bBits = Array.from({ length: 8 }, (_, bit) => polMod(1n << BigInt(61 + bit), tables.polynomial));
    for (let v = 0; v < 256; v++) {
      let b = 0n;
      for (let bit = 0; bit < 8; bit++) if ((v >> bit) & 1) b ^= bBits[bit];
      put(TABLE_B + 8 * v, b);
    }
    for (let o = 0; o < 256; o++) {
      const out = m.getBigUint64(TABLE_O + 8 * o, true);
      // O[o]·x^8 mod P: shift, then reduce the byte pushed above bit 52
      put(TABLE_O8 + 8 * o, ((out << 8n) & low53) ^ A[Number(out >> 45n)]);
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
