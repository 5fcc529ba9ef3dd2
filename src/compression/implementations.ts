/**
 * The zstd implementations this runtime may have, each detected without failing when absent:
 *
 * - `node:zlib`  — zstd built into Node ≥ 22.15 (native, honours levels, bounded output).
 * - `libzstd`    — the system's libzstd through this package's own small addon (./native/zstd.c,
 *                  built at install when libzstd's headers are present). Reuses one compression
 *                  and one decompression context per thread (a call costs the work plus about a
 *                  microsecond), honours levels, writes Frame_Content_Size, and bounds output.
 *                  On the main thread, large inputs go to libuv's thread pool so the event loop
 *                  keeps working; worker threads (which exist to do this work) call it directly.
 * - `native`     — @mongodb-js/zstd 1.2.x (a prebuilt Rust/N-API binary installed as an npm
 *                  platform package). Fast, but its compress ignores the level argument
 *                  (verified: identical output for levels 1 to 19) and writes frames without
 *                  Frame_Content_Size.
 * - `wasm`       — @bokuweb/zstd-wasm (zstd compiled to WebAssembly). Honours levels; its
 *                  one-shot decompress writes into a buffer of a fixed capacity, which gives an
 *                  exact bound on output.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import { loadNativeAddon } from '../platform/native-addon.js';

const require = createRequire(import.meta.url);

export interface ZstdImplementation {
  readonly name: 'node:zlib' | 'libzstd' | 'native' | 'wasm';
  /** Whether `level` changes the output (false for @mongodb-js/zstd 1.2). */
  readonly honoursLevel: boolean;
  compress(data: Uint8Array, level: number): Promise<Uint8Array>;
  /** Decompresses every frame. Output is limited to `maxOutput` bytes when the implementation can enforce it. */
  decompress(data: Uint8Array, maxOutput?: number): Promise<Uint8Array>;
  /** Whether `decompress` enforces `maxOutput` itself. */
  readonly boundsOutput: boolean;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function toUint8(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

// --- node:zlib (Node >= 22.15) ------------------------------------------------------------------

type ZlibCallback = (err: Error | null, result: Buffer) => void;
interface ZlibZstd {
  zstdCompress(buf: Buffer, options: { params: Record<number, number> }, cb: ZlibCallback): void;
  zstdDecompress(buf: Buffer, options: { maxOutputLength?: number }, cb: ZlibCallback): void;
  constants: Record<string, number>;
}

function loadZlibZstd(): ZstdImplementation | undefined {
  const z = zlib as unknown as Partial<ZlibZstd>;
  if (typeof z.zstdCompress !== 'function' || typeof z.zstdDecompress !== 'function' || !z.constants) return undefined;
  const levelParam = z.constants.ZSTD_c_compressionLevel;
  const checksumParam = z.constants.ZSTD_c_checksumFlag;
  if (levelParam === undefined) return undefined;
  const zz = z as ZlibZstd;
  return {
    name: 'node:zlib',
    honoursLevel: true,
    boundsOutput: true,
    compress(data, level) {
      const params: Record<number, number> = { [levelParam]: level };
      // restic writes frames without a content checksum; match it (the MAC already protects the data).
      if (checksumParam !== undefined) params[checksumParam] = 0;
      return new Promise((resolve, reject) => zz.zstdCompress(asBuffer(data), { params }, (err, out) => (err ? reject(err) : resolve(toUint8(out)))));
    },
    decompress(data, maxOutput) {
      const options = maxOutput === undefined ? {} : { maxOutputLength: Math.max(1, maxOutput) };
      return new Promise((resolve, reject) => zz.zstdDecompress(asBuffer(data), options, (err, out) => (err ? reject(err) : resolve(toUint8(out)))));
    },
  };
}

// --- libzstd through our addon (./native/zstd.c) ------------------------------------------------

/** The addon's functions. `maxOutput` bounds the decompressed size; more is an error, never produced. */
export interface LibzstdBinding {
  compress(data: Uint8Array, level: number): Uint8Array;
  /** Compresses into out[offset, offset + capacity); the frame's size, or -1 when it does not fit. */
  compressInto(data: Uint8Array, level: number, out: Uint8Array, offset: number, capacity: number): number;
  decompress(data: Uint8Array, maxOutput: number): Uint8Array;
  compressAsync(data: Uint8Array, level: number): Promise<Uint8Array>;
  decompressAsync(data: Uint8Array, maxOutput: number): Promise<Uint8Array>;
  /** libzstd's version, e.g. `1.5.4`. */
  readonly version: string;
}

/**
 * On the main thread, inputs (compress) or output limits (decompress) from this size on run on
 * libuv's thread pool: there the round trip and the job's own fresh context (tens to a few
 * hundred microseconds) are small next to the work, and the main thread can hash, encrypt or
 * read meanwhile. Smaller ones, and every call in a worker thread, run at once on the calling
 * thread with its reused context.
 */
export const LIBZSTD_ASYNC_FROM = 128 * 1024;
const libzstdAsyncFrom = isMainThread ? LIBZSTD_ASYNC_FROM : Infinity;

let libzstdUnavailable: string | undefined;
let libzstdFile: string | undefined;

function loadLibzstdBinding(): LibzstdBinding | undefined {
  const addon = loadNativeAddon<LibzstdBinding>(import.meta.url, {
    dir: 'compression/native',
    name: 'zstd',
    what: 'native zstd addon',
    needs: "a C compiler, make, python3 and libzstd's headers",
    // A build from before a function was added (a checkout not rebuilt) is refused, with this
    // reason, rather than failing later on the missing call.
    exports: ['compress', 'compressInto', 'decompressAsync'],
    disableVariable: 'RESTIC_TS_NATIVE_ZSTD',
  });
  libzstdUnavailable = addon.reason;
  libzstdFile = addon.file;
  return addon.binding;
}

/** The addon itself (tests and benchmarks call its sync and async paths directly). */
export const libzstdBinding: LibzstdBinding | undefined = loadLibzstdBinding();

/** Whether the libzstd addon is in use, and why not. */
export function libzstdStatus(): { available: boolean; reason?: string; version?: string; file?: string } {
  return libzstdBinding ? { available: true, version: libzstdBinding.version, file: libzstdFile } : { available: false, reason: libzstdUnavailable };
}

/** No limit given: the largest a Uint8Array can be. */
const NO_OUTPUT_LIMIT = 2 ** 53 - 1;

function loadLibzstd(binding: LibzstdBinding | undefined): ZstdImplementation | undefined {
  if (!binding) return undefined;
  return {
    name: 'libzstd',
    honoursLevel: true,
    boundsOutput: true,
    compress(data, level) {
      if (data.length >= libzstdAsyncFrom) return binding.compressAsync(data, level);
      try {
        return Promise.resolve(binding.compress(data, level));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
    decompress(data, maxOutput) {
      const limit = maxOutput ?? NO_OUTPUT_LIMIT;
      if (limit >= libzstdAsyncFrom) return binding.decompressAsync(data, limit);
      try {
        return Promise.resolve(binding.decompress(data, limit));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}

// --- @mongodb-js/zstd 1.2 (native) -------------------------------------------------------------

interface MongoZstd {
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

/**
 * With `lazy` (a faster implementation is present, so this one only serves benchmarks and
 * tests), the package is only located now and loaded on first use: loading it costs every
 * thread tens of milliseconds (its libc detection asks for a full process report).
 */
function loadNative(lazy: boolean): ZstdImplementation | undefined {
  let loaded: MongoZstd | undefined;
  const load = (): MongoZstd => (loaded ??= require('@mongodb-js/zstd') as MongoZstd);
  try {
    if (lazy) require.resolve('@mongodb-js/zstd');
    else if (typeof load().compress !== 'function' || typeof load().decompress !== 'function') return undefined;
  } catch {
    return undefined;
  }
  const mod = { compress: (d: Buffer, l?: number) => load().compress(d, l), decompress: (d: Buffer) => load().decompress(d) };
  return {
    name: 'native',
    honoursLevel: false,
    boundsOutput: false,
    async compress(data, level) {
      return toUint8(await mod.compress(asBuffer(data), level));
    },
    async decompress(data) {
      return toUint8(await mod.decompress(asBuffer(data)));
    },
  };
}

// --- @bokuweb/zstd-wasm -------------------------------------------------------------------------

interface WasmZstd {
  init(): Promise<void>;
  compress(buf: Uint8Array, level?: number): Uint8Array;
  decompress(buf: Uint8Array, opts?: { defaultHeapSize?: number }): Uint8Array;
}

function loadWasm(lazy: boolean): ZstdImplementation | undefined {
  let loaded: WasmZstd | undefined;
  const load = (): WasmZstd => (loaded ??= require('@bokuweb/zstd-wasm') as WasmZstd);
  try {
    if (lazy) require.resolve('@bokuweb/zstd-wasm');
    else if (typeof load().init !== 'function') return undefined;
  } catch {
    return undefined;
  }
  // Loaded and instantiated on first use: compress/decompress are async anyway, so importing stays cheap.
  let ready: Promise<void> | undefined;
  const init = (): Promise<void> => (ready ??= load().init());
  const mod = { compress: (b: Uint8Array, l?: number) => load().compress(b, l), decompress: (b: Uint8Array, o?: { defaultHeapSize?: number }) => load().decompress(b, o) };
  return {
    name: 'wasm',
    honoursLevel: true,
    boundsOutput: true,
    async compress(data, level) {
      await init();
      return mod.compress(data, level);
    },
    async decompress(data, maxOutput) {
      await init();
      // With a declared content size the library sizes the output itself; without one it needs
      // a capacity, and zstd fails (rather than overrunning) when the output would not fit.
      return mod.decompress(data, { defaultHeapSize: Math.max(1, maxOutput ?? 64 * 1024 * 1024) });
    },
  };
}

export const zlibZstd: ZstdImplementation | undefined = loadZlibZstd();
export const libzstd: ZstdImplementation | undefined = loadLibzstd(libzstdBinding);
/** zlib's or our libzstd addon make the packaged builds fallbacks: those load on first use. */
const fallbacksOnly = zlibZstd !== undefined || libzstd !== undefined;
export const nativeZstd: ZstdImplementation | undefined = loadNative(fallbacksOnly);
export const wasmZstd: ZstdImplementation | undefined = loadWasm(fallbacksOnly);

/** Every implementation present in this runtime, fastest first. */
export const availableZstd: readonly ZstdImplementation[] = [zlibZstd, libzstd, nativeZstd, wasmZstd].filter((x): x is ZstdImplementation => x !== undefined);
