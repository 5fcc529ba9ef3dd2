/**
 * The optional native fast path for restic's seal/open (./native/seal.c): AES-256-CTR and
 * Poly1305-AES through the OpenSSL that Node itself links in, with contexts created once per
 * thread, so a call costs about a microsecond plus the real work instead of tens of microseconds
 * of set-up (figures in docs/benchmarks.md, "Crypto primitives").
 *
 * The addon is built by the package's `install` script with node-gyp. Where it is absent (no C
 * compiler at install time, a Node without OpenSSL 3's EVP_MAC) or disabled with
 * RESTIC_TS_NATIVE_CRYPTO=0, `nativeSeal` is undefined and the `node` implementation uses
 * node:crypto and libsodium as before; `nativeSealStatus()` says why. The `portable`
 * implementation never uses it. Loading works in worker threads (per-thread state in N-API
 * instance data).
 */
import { loadNativeAddon } from '../platform/native-addon.js';

/** The addon's functions. Key parts are the MasterKey's: encrypt 32 bytes, macK and macR 16 bytes each. */
export interface NativeSealBinding {
  /** `IV || AES-256-CTR(plaintext) || tag` with a random non-zero IV. */
  seal(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The same with a given IV (tests compare it byte for byte with the pure implementations). */
  sealWithIv(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Writes `plaintext.length + 32` sealed bytes at `out[offset]`; the plaintext may already sit at `out[offset + 16]`. */
  sealInto(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
  /** The Poly1305-AES tag of `ciphertext` under `iv`. */
  computeMac(macK: Uint8Array, macR: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  /** Whether `sealed` (≥ 32 bytes) carries a matching tag and a non-zero IV. */
  verify(macK: Uint8Array, macR: Uint8Array, sealed: Uint8Array): boolean;
  /** The plaintext of `sealed` (≥ 32 bytes), or null when the tag does not match or the IV is zero. */
  open(encrypt: Uint8Array, macK: Uint8Array, macR: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  /** Plain Poly1305 with a 32-byte one-time key `r || s`. */
  poly1305(message: Uint8Array, key: Uint8Array): Uint8Array;
  aes256Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  aes128EncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array;
  /**
   * scrypt's ROMix for consecutive lanes (`blocks`: a whole number of 128 * r-byte lanes,
   * replaced in place) on libuv's thread pool (./native/scrypt-romix.c), in groups of up to
   * `maxWidth` lanes (1, 2 or 4; default 4, as wide as the CPU allows) worked side by side in
   * one vector, the groups one after another with one set of tables.
   */
  romixLanesAsync(blocks: Uint8Array, N: number, r: number, maxWidth?: 1 | 2 | 4): Promise<void>;
  /** The group widths this CPU runs: 1, and 2 with AVX2, 4 with AVX-512. */
  romixWidths(): Array<1 | 2 | 4>;
  /**
   * Allocates and faults in a table of `bytes` on libuv's thread pool for the next ROMix call
   * whose tables fit (it waits for the table when it is still being filled); nothing when one is
   * already reserved. Settles once the table is ready.
   */
  romixReserve(bytes: number): Promise<void>;
  /** Frees a reserved table nobody took. */
  romixRelease(): void;
}

export interface NativeSealStatus {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  /** The file loaded, when available. */
  file?: string;
}

function load(): { binding?: NativeSealBinding; status: NativeSealStatus } {
  const addon = loadNativeAddon<NativeSealBinding>(import.meta.url, {
    dir: 'crypto/native',
    name: 'seal',
    what: 'native seal addon',
    needs: 'a C compiler, make and python3',
    // A build from before a function was added (a checkout not rebuilt) is refused, with this
    // reason, rather than failing later on the missing call.
    exports: ['seal', 'sealInto', 'open', 'romixLanesAsync', 'romixWidths', 'romixReserve', 'romixRelease'],
    disableVariable: 'RESTIC_TS_NATIVE_CRYPTO',
  });
  return addon.binding ? { binding: addon.binding, status: { available: true, file: addon.file } } : { status: { available: false, reason: addon.reason } };
}

const loaded = load();

/** The native seal/open binding, or undefined when it is not built or cannot load here. */
export const nativeSeal: NativeSealBinding | undefined = loaded.binding;

/** Whether the native fast path is in use, and why not. */
export function nativeSealStatus(): NativeSealStatus {
  return { ...loaded.status };
}
