/**
 * Reads the blob list of a pack file straight from the backend, without the index.
 *
 * Like restic, reads a fixed tail first (enough for 15 compressed entries, so small packs
 * cost one request), takes the header length from the last 4 bytes, and fetches the rest of
 * the header only when it did not fit in that tail.
 */
import type { Backend } from '../backend/backend.js';
import { relativePath } from '../backend/backend.js';
import { open, type MasterKey } from '../crypto/index.js';
import { ResticError } from '../errors.js';
import type { Id } from '../format/id.js';
import { CRYPTO_OVERHEAD, EAGER_HEADER_READ, HEADER_LENGTH_SIZE, MAX_HEADER_SIZE, parsePackHeader, type PackedBlob } from './header.js';

export interface PackHeaderBytes {
  /** The sealed header (IV || ciphertext || MAC). */
  sealed: Uint8Array;
  /** Header length field plus sealed header: the bytes at the end of the pack that are not blobs. */
  trailerSize: number;
}

/**
 * The sealed header of a pack, checked the way restic checks it (length ≠ 0, ≥ 32,
 * ≤ file size − 4, ≤ 16 MiB). `packSize` saves a `stat` when the caller knows it (from `list`).
 */
export async function readSealedPackHeader(backend: Backend, packId: Id, packSize?: number): Promise<PackHeaderBytes> {
  const file = relativePath('pack', packId);
  const size = packSize ?? (await backend.stat('pack', packId)).size;
  if (size < HEADER_LENGTH_SIZE + CRYPTO_OVERHEAD) {
    throw new ResticError('CORRUPT', `${file}: truncated pack: ${size} bytes is too small to hold a header`, { file });
  }
  const eager = Math.min(EAGER_HEADER_READ, size);
  let tail = await backend.read('pack', packId, { offset: size - eager, length: eager });
  if (tail.length !== eager) {
    throw new ResticError('CORRUPT', `${file}: truncated pack: read ${tail.length} of ${eager} bytes at the end`, { file });
  }
  const headerLength = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(eager - HEADER_LENGTH_SIZE, true);
  let problem: string | undefined;
  if (headerLength === 0) problem = 'header length is zero';
  else if (headerLength < CRYPTO_OVERHEAD) problem = `header length ${headerLength} is shorter than IV and MAC (${CRYPTO_OVERHEAD})`;
  else if (headerLength > size - HEADER_LENGTH_SIZE) problem = `header length ${headerLength} is larger than the file (${size} bytes): truncated pack`;
  else if (headerLength > MAX_HEADER_SIZE - HEADER_LENGTH_SIZE) problem = `header length ${headerLength} is larger than the maximum ${MAX_HEADER_SIZE - HEADER_LENGTH_SIZE}`;
  if (problem !== undefined) {
    throw new ResticError('CORRUPT', `${file}: header length out of range: ${problem}`, { file });
  }
  const trailerSize = headerLength + HEADER_LENGTH_SIZE;
  if (trailerSize > eager) {
    tail = await backend.read('pack', packId, { offset: size - trailerSize, length: trailerSize });
    if (tail.length !== trailerSize) {
      throw new ResticError('CORRUPT', `${file}: truncated pack: read ${tail.length} of ${trailerSize} header bytes`, { file });
    }
  }
  const sealed = tail.subarray(tail.length - trailerSize, tail.length - HEADER_LENGTH_SIZE);
  return { sealed, trailerSize };
}

/** The blobs of a pack in file order, from its own header. CORRUPT / MAC_FAILED name the pack. */
export async function readPackHeader(backend: Backend, key: MasterKey, packId: Id, packSize?: number): Promise<PackedBlob[]> {
  const { sealed } = await readSealedPackHeader(backend, packId, packSize);
  const plaintext = open(key, sealed, relativePath('pack', packId));
  return parsePackHeader(plaintext, packId);
}
