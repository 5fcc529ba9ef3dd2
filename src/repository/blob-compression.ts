/**
 * How a blob is compressed before it is sealed: restic's rules for when (repository version,
 * `--compression`, blob type) and the `auto` mode's shortcut for incompressible data. Its own
 * module because the blob worker threads need it without the rest of the saver.
 */
import { compress, compressInto, type CompressionMode } from '../compression/index.js';
import type { BlobType } from '../pack/header.js';

/** restic compresses in v2 unless the mode is off, and `off` only applies to data blobs; empty blobs never. */
export function blobCompression(repoVersion: number, mode: CompressionMode, type: BlobType, length: number): Exclude<CompressionMode, 'off'> | null {
  if (repoVersion < 2 || length === 0) return null;
  if (mode === 'off') return type === 'data' ? null : 'auto';
  return mode;
}

/**
 * zstd-compresses when asked. A *data* blob whose frame is not smaller is kept as it is
 * (incompressible data): both forms are valid for every reader, and a stored-as-is blob is
 * cheaper to verify and to restore. Tree blobs are always stored compressed, as restic does:
 * restic's prune repacks any tree pack holding an uncompressed blob ("mustCompress"), so an
 * uncompressed tree blob would make every later prune rewrite that pack.
 */
export async function compressIfSmaller(
  data: Uint8Array,
  level: Exclude<CompressionMode, 'off'> | null,
  type: BlobType,
): Promise<{ payload: Uint8Array; compressed: boolean }> {
  if (level === null) return { payload: data, compressed: false };
  if (type === 'data' && level === 'auto' && (await looksIncompressible(data))) return { payload: data, compressed: false };
  const frame = await compress(data, level);
  if (type === 'tree' || frame.length < data.length) return { payload: frame, compressed: true };
  return { payload: data, compressed: false };
}

/**
 * compressIfSmaller for a data blob, written straight into `out` at `offset` (a frame only when
 * it is smaller than `data`; then it is the payload, in place). Returns the payload's length and
 * whether it is compressed — for an uncompressed one nothing is written: the payload is `data`.
 * Undefined when this path does not apply (no libzstd addon, or a blob `auto` would sample
 * first): use compressIfSmaller. `out` needs `data.length - 1` bytes of room at `offset`.
 */
export function compressDataInto(data: Uint8Array, level: Exclude<CompressionMode, 'off'> | null, out: Uint8Array, offset: number): { length: number; compressed: boolean } | undefined {
  if (level === null || data.length === 0) return { length: data.length, compressed: false };
  if (level === 'auto' && data.length >= SAMPLE_MIN_BLOB) return undefined;
  const size = compressInto(data, level, out, offset, data.length - 1);
  if (size === undefined) return undefined;
  return size < 0 ? { length: data.length, compressed: false } : { length: size, compressed: true };
}

/**
 * `auto` skips compressing a large data blob whose samples do not compress (borg's `auto`
 * compression decides the same way): zstd spends ~1.5 ms per MiB of random data to find nothing
 * to gain — the biggest single cost of backing up already-compressed files. Three 8 KiB samples
 * (start, middle, end) cost ~2 % of compressing the whole blob; the blob is compressed as usual
 * unless *every* sample fails to shrink by 3 %, so mixed content still gets compressed. `max`
 * and `better` always try the whole blob.
 */
const SAMPLE_MIN_BLOB = 64 * 1024;
const SAMPLE_SIZE = 8 * 1024;

/** True when a data blob is large enough to sample and no sample compresses by 3 % or more. */
async function looksIncompressible(data: Uint8Array): Promise<boolean> {
  if (data.length < SAMPLE_MIN_BLOB) return false;
  for (const at of [0, (data.length - SAMPLE_SIZE) >>> 1, data.length - SAMPLE_SIZE]) {
    const sample = data.subarray(at, at + SAMPLE_SIZE);
    if ((await compress(sample, 'fastest')).length < sample.length * 0.97) return false;
  }
  return true;
}
