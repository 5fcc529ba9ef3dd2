/**
 * zstd for restic's version-2 repositories, behind one small interface that picks the best
 * implementation this runtime has and says which one it uses.
 *
 * Choice (figures in docs/benchmarks.md, "Compression"):
 * - Our libzstd addon (./native/, built at install when libzstd's headers are present) does
 *   everything when present: native speed with contexts reused per thread (node:zlib and
 *   @mongodb-js/zstd set up a context per call, which costs several times the work on a small
 *   blob), honours levels, bounds its output exactly.
 * - Otherwise node:zlib zstd (Node ≥ 22.15) does everything when present: native speed, honours
 *   levels, bounds its output.
 * - Otherwise @mongodb-js/zstd (native) compresses `auto` and `fastest`: it ignores the level
 *   (it always produces its default-level output, comparable to zstd 3) yet is faster than the
 *   WebAssembly build even at level 1. `better` and `max` need real levels and use
 *   @bokuweb/zstd-wasm.
 * - Decompression uses the native build whenever the frame headers prove the output is small
 *   enough (see below), the WebAssembly build with an exact output capacity otherwise.
 *
 * restic reads any standard zstd frame (checksum or not, content size or not), so the choice of
 * compressor never affects compatibility.
 */
import { ResticError } from '../errors.js';
import { inspectFrames } from './frame.js';
import { availableZstd, libzstd, libzstdBinding, nativeZstd, wasmZstd, zlibZstd, type ZstdImplementation } from './implementations.js';

export type CompressionMode = 'auto' | 'max' | 'fastest' | 'better' | 'off';
export type CompressionLevelMode = Exclude<CompressionMode, 'off'>;

/** zstd levels matching klauspost's SpeedFastest / SpeedDefault / SpeedBetterCompression / SpeedBestCompression, which restic uses. */
export const MODE_LEVELS: Readonly<Record<CompressionLevelMode, number>> = { fastest: 1, auto: 3, better: 7, max: 11 };

export const COMPRESSION_MODES: readonly CompressionMode[] = ['auto', 'max', 'fastest', 'better', 'off'];

export function isCompressionMode(s: string): s is CompressionMode {
  return (COMPRESSION_MODES as readonly string[]).includes(s);
}

export { inspectFrames, type FramesInfo } from './frame.js';
export { availableZstd, libzstdStatus, type ZstdImplementation } from './implementations.js';

function pickCompressor(mode: CompressionLevelMode): ZstdImplementation | undefined {
  if (libzstd) return libzstd;
  if (zlibZstd) return zlibZstd;
  if ((mode === 'auto' || mode === 'fastest') && nativeZstd) return nativeZstd;
  return wasmZstd ?? nativeZstd;
}

const compressors: Record<CompressionLevelMode, ZstdImplementation | undefined> = {
  fastest: pickCompressor('fastest'),
  auto: pickCompressor('auto'),
  better: pickCompressor('better'),
  max: pickCompressor('max'),
};

/** The fastest decompressor, and the one that can bound its output exactly. */
const fastDecompressor: ZstdImplementation | undefined = libzstd ?? zlibZstd ?? nativeZstd ?? wasmZstd;
const boundedDecompressor: ZstdImplementation | undefined = libzstd ?? zlibZstd ?? wasmZstd;

/** Which implementation each mode compresses with, and which decompresses, e.g. `auto=native max=wasm(11) … decompress=native`. */
export function compressionImplementation(): string {
  const parts = (Object.keys(MODE_LEVELS) as CompressionLevelMode[]).map((mode) => {
    const impl = compressors[mode];
    if (!impl) return `${mode}=none`;
    if (!impl.honoursLevel) return `${mode}=${impl.name}(default level)`;
    return mode === 'auto' ? `${mode}=${impl.name}(level ${MODE_LEVELS[mode]}, 2 up to ${AUTO_SMALL_INPUT / 1024} KiB)` : `${mode}=${impl.name}(level ${MODE_LEVELS[mode]})`;
  });
  const dec = fastDecompressor?.name ?? 'none';
  const bounded = boundedDecompressor && boundedDecompressor !== fastDecompressor ? `, bounded=${boundedDecompressor.name}` : '';
  return `${parts.join(' ')} decompress=${dec}${bounded}`;
}

/**
 * `auto` compresses inputs up to this size at level 2 instead of 3. For inputs this small zstd
 * picks its small-input parameters, where level 3 (dfast) ran at ~105 MB/s on a tree of 5,000
 * small text files against ~200 MB/s for level 2 (fast), for a frame only 0.3 % larger — still
 * 0.6 % smaller than restic 0.14's `auto` output for the same files (klauspost's SpeedDefault).
 * Larger inputs keep level 3: there level 2 costs 5-8 % in size for little speed
 * (docs/benchmarks.md, "Compression").
 */
export const AUTO_SMALL_INPUT = 16 * 1024;

/** The zstd level `mode` stands for, for an input of `length` bytes. */
function levelFor(mode: CompressionLevelMode, length: number): number {
  return mode === 'auto' && length <= AUTO_SMALL_INPUT ? 2 : MODE_LEVELS[mode];
}

/**
 * Compresses `data` into `out[offset, offset + capacity)` when the libzstd addon is here (else
 * undefined: use `compress`). Returns the frame's size, or -1 when the frame is larger than
 * `capacity` — with `capacity = data.length - 1`, "does not compress", found without allocating.
 */
export function compressInto(data: Uint8Array, mode: CompressionLevelMode, out: Uint8Array, offset: number, capacity: number): number | undefined {
  if (!libzstdBinding || compressors[mode] !== libzstd) return undefined;
  return libzstdBinding.compressInto(data, levelFor(mode, data.length), out, offset, capacity);
}

/** Compresses `data` into one standard zstd frame at the level `mode` stands for. */
export async function compress(data: Uint8Array, mode: CompressionLevelMode): Promise<Uint8Array> {
  const level = levelFor(mode, data.length);
  if (level === undefined) throw new ResticError('USAGE', `invalid compression mode ${JSON.stringify(mode)} (want auto, max, fastest or better)`);
  const impl = compressors[mode];
  if (!impl) throw new ResticError('UNSUPPORTED', 'no zstd implementation is available in this runtime');
  return impl.compress(data, level);
}

/**
 * Output this many bytes beyond what is expected is allowed to the unbounded native decoder:
 * honest frames without a declared size overestimate by under one 128 KiB block per frame, and
 * anything larger goes through the exactly bounded decoder instead.
 */
const NATIVE_SLACK = 1024 * 1024;

/**
 * Decompresses zstd data (one or more frames; with or without Frame_Content_Size or checksum).
 * With `expectedLength` (a blob's uncompressed length from the index) the result must have
 * exactly that length, and no more than that is ever produced: a frame declaring another size is
 * rejected before decoding, and frames that could expand further are decoded into a buffer of
 * exactly that capacity. CORRUPT (naming `what`) on any malformed frame or length mismatch.
 */
export async function decompress(data: Uint8Array, expectedLength?: number, what = 'zstd data'): Promise<Uint8Array> {
  const info = inspectFrames(data, what);
  if (info.frames === 0) {
    if (expectedLength !== undefined && expectedLength !== 0) {
      throw new ResticError('CORRUPT', `${what}: zstd data is empty, want ${expectedLength} bytes`, { file: what });
    }
    return new Uint8Array(0);
  }
  if (expectedLength !== undefined) {
    if (info.contentSize !== undefined && info.contentSize !== expectedLength) {
      throw new ResticError('CORRUPT', `${what}: zstd frame declares ${info.contentSize} bytes, want ${expectedLength}`, { file: what });
    }
    if (info.outputBound < expectedLength) {
      throw new ResticError('CORRUPT', `${what}: zstd data holds at most ${info.outputBound} bytes, want ${expectedLength}`, { file: what });
    }
  }
  const limit = expectedLength ?? info.contentSize ?? info.outputBound;
  let impl = fastDecompressor;
  if (impl && !impl.boundsOutput && info.contentSize === undefined && info.outputBound > limit + NATIVE_SLACK && boundedDecompressor) {
    impl = boundedDecompressor;
  }
  if (!impl) throw new ResticError('UNSUPPORTED', 'no zstd implementation is available in this runtime');
  let out: Uint8Array;
  try {
    out = await impl.decompress(data, limit);
  } catch (cause) {
    throw new ResticError('CORRUPT', `${what}: zstd decompression failed: ${(cause as Error).message ?? String(cause)}`, { file: what, cause });
  }
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new ResticError('CORRUPT', `${what}: decompressed to ${out.length} bytes, want ${expectedLength}`, { file: what });
  }
  if (expectedLength === undefined && info.contentSize !== undefined && out.length !== info.contentSize) {
    throw new ResticError('CORRUPT', `${what}: decompressed to ${out.length} bytes, frame declares ${info.contentSize}`, { file: what });
  }
  return out;
}

/** Names of the implementations present (for diagnostics). */
export function availableCompressionImplementations(): string[] {
  return availableZstd.map((i) => i.name);
}
