/**
 * The plaintext encoding of "unpacked" files (index, snapshot, lock) before they are sealed:
 * - repository version 1: the raw JSON;
 * - repository version 2: the byte 0x02 followed by one zstd frame of the JSON — always, even
 *   with compression `off` (restic leaves only data blobs uncompressed then).
 * Readers accept both forms in any repository: `{` or `[` first means raw JSON.
 * The `config` file and key files never use this encoding.
 */
import { ResticError } from '../errors.js';
import { compress, decompress, type CompressionMode } from '../compression/index.js';

/** First plaintext byte marking a zstd-compressed unpacked file. */
export const UNPACKED_ZSTD_VERSION = 0x02;

/** Produces the plaintext to seal for an unpacked file. */
export async function encodeUnpacked(json: Uint8Array, repoVersion: number, mode: CompressionMode): Promise<Uint8Array> {
  if (repoVersion < 2) return json;
  // restic's unpacked-file encoder uses the default level unless max is asked for; `off` still compresses.
  const frame = await compress(json, mode === 'off' ? 'auto' : mode);
  const out = new Uint8Array(1 + frame.length);
  out[0] = UNPACKED_ZSTD_VERSION;
  out.set(frame, 1);
  return out;
}

/** Turns decrypted unpacked-file plaintext back into JSON bytes. `what` names the file in errors. */
export async function decodeUnpacked(plaintext: Uint8Array, what: string): Promise<Uint8Array> {
  if (plaintext.length === 0) return plaintext;
  const first = plaintext[0]!;
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) return plaintext;
  if (first === UNPACKED_ZSTD_VERSION) return decompress(plaintext.subarray(1), undefined, what);
  throw new ResticError('CORRUPT', `${what}: not supported encoding format (first byte 0x${first.toString(16).padStart(2, '0')})`, { file: what });
}
